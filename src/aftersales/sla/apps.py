from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "aftersales.sla"
    label = "sla"
    verbose_name = _("Service hours and SLAs")

    def ready(self) -> None:
        from aftersales.cases.transitions import TRANSITION_HOOKS
        from aftersales.channels.services import ORDER_HOOKS
        from aftersales.sla.hooks import case_transitioned, order_changed

        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)
        if order_changed not in ORDER_HOOKS:
            ORDER_HOOKS.append(order_changed)

        from aftersales.core.beat import beat_register
        from aftersales.sla.firing import timers_sweep

        beat_register("timers", lambda now: timers_sweep(now=now))
