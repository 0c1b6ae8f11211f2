"""Payment adapters: how a refund leaves for the customer's account (Alipay, WeChat Pay, by
hand with proof, or as store credit)."""
