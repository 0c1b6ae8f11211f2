"""Fixtures for the logistics tests: a shop under the default policy with its return
warehouses, products with a parts list, a signed courier feed, and the ledger's balance
checked after every test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftersales.catalog.models import Category, Part, Product
from aftersales.channels.models import Shop
from aftersales.ledger.selectors import trial_balance
from aftersales.logistics.models import CourierFeed, Warehouse
from aftersales.policies.services import policy_install_default
from aftersales.tests import factories as f

RETURN_ADDRESS = "王仓管 0571-88880000 浙江省杭州市余杭区文一西路 998 号 售后仓"


@pytest.fixture(autouse=True)
def _ledger_balances(db):
    """Whatever a test did, every shop's journal still balances afterwards."""
    yield
    for shop in Shop.objects.all():
        debits, credits = trial_balance(shop)
        assert debits == credits, (shop.code, debits, credits)


@pytest.fixture
def shop(db):
    shop = f.shop("logi")
    policy_install_default(shop=shop)
    return shop


@pytest.fixture
def bare_shop(db):
    """A shop without a policy: every case waits for a person."""
    return f.shop("bare")


@pytest.fixture
def warehouse(shop):
    # A non-default warehouse whose code sorts first: the default must still win.
    Warehouse.objects.create(
        shop=shop,
        code="a-overflow",
        name="上海备用仓",
        contact_name="李备",
        phone="021-66660000",
        address="上海市青浦区华新镇 1 号",
    )
    return Warehouse.objects.create(
        shop=shop,
        code="main",
        name="杭州售后仓",
        contact_name="王仓管",
        phone="0571-88880000",
        address="浙江省杭州市余杭区文一西路 998 号 售后仓",
        is_default=True,
    )


@pytest.fixture
def channel(shop):
    return f.channel(shop, code="tmall")


@pytest.fixture
def products(shop):
    general = Category.objects.create(shop=shop, code="general", name="日用")
    phone = Product.objects.create(
        shop=shop, sku="PHONE", name="手机", price=Decimal("1500.00"), category=general
    )
    Part.objects.create(shop=shop, product=phone, code="SCREEN", name="屏幕", price=Decimal("120"))
    cup = Product.objects.create(
        shop=shop, sku="CUP", name="杯子", price=Decimal("50.00"), category=general
    )
    return {"cup": cup, "phone": phone}


@pytest.fixture
def feed(shop):
    return CourierFeed.objects.create(
        shop=shop, code="kd100", name="快递100", secret="feed-secret-7f3a9c"
    )


@pytest.fixture
def finance(shop):
    return f.user("finance", [shop], "finance1")
