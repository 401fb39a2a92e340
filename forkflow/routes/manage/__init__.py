"""The manager's console, `/manage`: menu editor, availability, stock, today's figures, staff,
scheduled orders and opening hours, online ordering's pace, taxes and charges, discount reasons.

Every change goes through the service layer, whose events reach every till, menu page, kitchen
display and console at once; the console's own stream brings each change back (page.py).

Forms post with htmx and get back the section they changed (422/409 with the form and its inline
errors when refused: nothing is written then); a plain form post without JavaScript gets the whole
page back instead, or a redirect to it.

page.py (the page and its stream), menu.py (menu editor, availability, the menu's order, recipes), stock.py,
staff.py, schedule.py, online.py, printers.py, taxes.py, reasons.py and reports.py (the day's report, the
audit log) hold the endpoints, by what a manager does; view.py, forms.py and charts.py what they show and
read. The routes are listed here, in the order they are matched.
"""

from starlette.routing import Route

from ... import convertors  # noqa: F401  (registers the {id:id} path convertor)
from . import menu, online, page, printers, reasons, reports, schedule, staff, stock, taxes

routes = [
    Route("/manage", page.console_page, methods=["GET"]),
    Route("/manage/stream", page.console_stream, methods=["GET"]),
    Route("/manage/menu", menu.add_menu_item, methods=["POST"]),
    Route("/manage/menu/new", menu.new_menu_form, methods=["GET"]),
    Route("/manage/menu/{id:id}/edit", menu.edit_menu_form, methods=["GET"]),
    Route("/manage/menu/{id:id}", menu.update_menu_item, methods=["POST"]),
    Route("/manage/menu/categories/move", menu.move_category, methods=["POST"]),
    Route("/manage/menu/categories/course", menu.set_category_course, methods=["POST"]),
    Route("/manage/kitchen", menu.set_auto_fire, methods=["POST"]),
    Route("/manage/menu/{id:id}/availability", menu.set_availability, methods=["POST"]),
    Route("/manage/menu/{id:id}/options/{option_id:id}/availability", menu.set_option_availability, methods=["POST"]),
    Route("/manage/menu/{id:id}/move", menu.move_item, methods=["POST"]),
    Route("/manage/inventory/{id:id}/adjust", stock.adjust_stock, methods=["POST"]),
    Route("/manage/inventory/{id:id}/low", stock.set_low_stock, methods=["POST"]),
    Route("/manage/inventory/{id:id}/movements", stock.stock_movements, methods=["GET"]),
    Route("/manage/menu/{id:id}/recipe", menu.save_recipe, methods=["POST"]),
    Route("/manage/staff", staff.add_staff_member, methods=["POST"]),
    Route("/manage/hours", schedule.save_hours, methods=["POST"]),
    Route("/manage/online", online.save_online, methods=["POST"]),
    Route("/manage/taxes", taxes.save_tax_rate, methods=["POST"]),
    Route("/manage/taxes/categories", taxes.save_category_rates, methods=["POST"]),
    Route("/manage/taxes/{id:id}/edit", taxes.edit_tax_rate, methods=["GET"]),
    Route("/manage/taxes/{id:id}/remove", taxes.remove_tax_rate, methods=["POST"]),
    Route("/manage/money", taxes.save_money_settings, methods=["POST"]),
    Route("/manage/printers", printers.save_printer, methods=["POST"]),
    Route("/manage/printers/{id:id}/edit", printers.edit_printer, methods=["GET"]),
    Route("/manage/printers/{id:id}/remove", printers.remove_printer, methods=["POST"]),
    Route("/manage/printers/{id:id}/test", printers.test_page, methods=["POST"]),
    Route("/manage/orders/{id:id}/release", schedule.send_now, methods=["POST"]),
    Route("/manage/staff/{id:id}/active", staff.set_staff_active, methods=["POST"]),
    Route("/manage/discount-reasons", reasons.add_reason, methods=["POST"]),
    Route("/manage/discount-reasons/{id:id}/name", reasons.rename_reason, methods=["POST"]),
    Route("/manage/discount-reasons/{id:id}/active", reasons.set_active, methods=["POST"]),
    Route("/manage/discount-reasons/{id:id}/remove", reasons.remove_reason, methods=["POST"]),
    Route("/manage/reports", reports.reports_page, methods=["GET"]),
    Route("/manage/reports/close", reports.close_day_form, methods=["POST"]),
    Route("/manage/reports/print", reports.print_report_form, methods=["POST"]),
    Route("/manage/audit", reports.audit_page, methods=["GET"]),
]

__all__ = ["routes"]
