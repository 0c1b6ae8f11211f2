from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogisticsConfig(AppConfig):
    name = "aftersales.logistics"
    label = "logistics"
    verbose_name = _("Logistics and warehouse")

    def ready(self) -> None:
        from aftersales.cases.services import ACTION_SERVICES
        from aftersales.cases.transitions import TRANSITION_HOOKS
        from aftersales.logistics import services
        from aftersales.logistics.hooks import case_transitioned

        ACTION_SERVICES.setdefault("intercept", services.intercept_request)
        ACTION_SERVICES.setdefault("factory_send", services.case_factory_send)
        ACTION_SERVICES.setdefault("factory_receive", services.case_factory_receive)
        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)
