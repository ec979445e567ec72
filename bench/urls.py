"""The product's URLs, plus the reference views of the submission benchmark when settings.BENCH_VIEWS is true."""

from django.conf import settings
from django.urls import path

from bench import views
from config.urls import urlpatterns as product_urlpatterns

urlpatterns = list(product_urlpatterns)
if getattr(settings, "BENCH_VIEWS", False) and not getattr(settings, "PRODUCTION", False):
    urlpatterns += [
        path("bench/trivial/", views.trivial),
        path("bench/minimal/<str:token>/", views.minimal_submission),
    ]
