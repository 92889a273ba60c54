from django.urls import include, path

from shop import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("jobs/<str:job_id>/", views.job_status, name="job-status"),
    path("orders/", views.place_order, name="place-order"),
    path("orders/results/<str:result_id>/", views.order_result, name="order-result"),
    # the queue's REST API and dashboard (/queue/dashboard)
    path("queue/", include("noormme_queue.contrib.django.urls")),
]
