from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "aftersales.sla"
    label = "sla"
    verbose_name = _("Service hours and SLAs")

    def ready(self) -> None:
        from aftersales.cases.transitions import TRANSITION_HOOKS
        from aftersales.sla.hooks import case_transitioned

        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)
