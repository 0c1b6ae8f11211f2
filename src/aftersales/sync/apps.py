from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SyncConfig(AppConfig):
    name = "aftersales.sync"
    label = "sync"
    verbose_name = _("Channel sync")

    def ready(self) -> None:
        from aftersales.core.beat import beat_register
        from aftersales.sync.reconcile import pulls_sweep

        beat_register("channel_pulls", pulls_sweep)
