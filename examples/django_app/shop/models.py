from django.db import models


class Order(models.Model):
    ref = models.CharField(max_length=40, unique=True)
    email = models.EmailField()
    confirmed = models.BooleanField(default=False)
