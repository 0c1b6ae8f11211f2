"""From a shop's payment account to the adapter that speaks its provider's protocol."""

from __future__ import annotations

from aftersales.ledger.models import PaymentAccount, Provider
from aftersales.ledger.payments.alipay import AlipayAdapter, AlipayConfig
from aftersales.ledger.payments.base import PaymentAdapter, PaymentError
from aftersales.ledger.payments.wechatpay import WeChatPayAdapter, WeChatPayConfig


def adapter_for(account: PaymentAccount) -> PaymentAdapter:
    if account.provider == Provider.ALIPAY:
        return AlipayAdapter(
            AlipayConfig(
                app_id=account.merchant_id,
                private_key_pem=account.private_key,
                alipay_public_key_pem=account.provider_public_key,
                gateway_url=account.gateway_url,
            )
        )
    if account.provider == Provider.WECHATPAY:
        return WeChatPayAdapter(
            WeChatPayConfig(
                mch_id=account.merchant_id,
                serial_no=account.key_serial,
                private_key_pem=account.private_key,
                platform_public_key_pem=account.provider_public_key,
                platform_serial=account.provider_key_serial,
                api_v3_key=account.api_key,
                base_url=account.gateway_url,
            )
        )
    raise PaymentError(f"no adapter speaks {account.provider}", retryable=False)
