from django.contrib import admin
from django.urls import path, re_path
from django.utils.translation import gettext as _

from aftersales.api.errors import error_response
from aftersales.api.main import api


def api_not_found(request, rest=""):
    return error_response(404, "not_found", _("No such API endpoint."))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
]
