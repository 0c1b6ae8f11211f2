from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "aftersales.ledger"
    label = "ledger"
    verbose_name = _("Ledger")

    def ready(self) -> None:
        from aftersales.cases.services import ACTION_SERVICES
        from aftersales.cases.transitions import TRANSITION_HOOKS
        from aftersales.core.beat import beat_register
        from aftersales.ledger.compensation import compensation_give
        from aftersales.ledger.hooks import case_transitioned
        from aftersales.ledger.refunds import refunds_sweep

        ACTION_SERVICES.setdefault("compensate", compensation_give)
        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)
        beat_register("refunds", lambda now: refunds_sweep(now=now))
