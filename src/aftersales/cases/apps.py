from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "aftersales.cases"
    label = "cases"
    verbose_name = _("After-sales cases")

    def ready(self) -> None:
        from aftersales.cases.assignment import case_transitioned
        from aftersales.cases.transitions import TRANSITION_HOOKS

        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)

        from aftersales.cases.assignment import queues_drain
        from aftersales.core.beat import beat_register

        beat_register("queues", lambda now: queues_drain(now=now))
