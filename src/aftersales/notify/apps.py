from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "aftersales.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from aftersales.cases.transitions import TRANSITION_HOOKS
        from aftersales.core.beat import beat_register
        from aftersales.notify.broadcasts import broadcasts_sweep
        from aftersales.notify.delivery import outbox_sweep
        from aftersales.notify.hooks import case_transitioned

        if case_transitioned not in TRANSITION_HOOKS:
            TRANSITION_HOOKS.append(case_transitioned)
        # Broadcasts first, so the messages a beat writes leave in the same beat.
        beat_register("broadcasts", lambda now: broadcasts_sweep(now=now))
        beat_register("outbox", lambda now: outbox_sweep(now=now, live=True))
