"""Column maps for each channel's own exports, and the generic template (docs/import.md).

An order file has one row per order line (the marketplaces' "宝贝/商品" reports, where the
order's own columns repeat on every line of it). A case file has one row per line of an
after-sales request; a request with several lines repeats its number on each.

A preset maps our field to the headers the channel's export prints; the first header found in
the file wins. Headers are matched without surrounding spaces and without case.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftersales.cases.models import Reason
from aftersales.cases.states import CaseType
from aftersales.channels.models import ChannelKind, PaymentProvider

Columns = dict[str, tuple[str, ...]]

ORDER_FIELDS = (
    "order_number",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "line_total",
    "discount",
    "paid_amount",
    "shipping_fee",
    "placed_at",
    "paid_at",
    "shipped_at",
    "signed_at",
    "order_status",
    "buyer_name",
    "phone",
    "courier",
    "tracking_number",
    "payment_reference",
)
# A price is either per unit or for the whole line (Pinduoduo prints the line's total).
ORDER_REQUIRED = ("order_number", "sku", "quantity")
ORDER_PRICE = ("unit_price", "line_total")

CASE_FIELDS = (
    "external_id",
    "order_number",
    "case_type",
    "channel_status",
    "reason",
    "refund_amount",
    "customer_words",
    "sku",
    "quantity",
    "updated_at",
)
CASE_REQUIRED = ("external_id", "order_number", "case_type", "channel_status")


@dataclass(frozen=True)
class Preset:
    code: str
    orders: Columns
    cases: Columns
    # How the channel's customers paid: a marketplace refunds from its own checkout.
    payment_provider: str = PaymentProvider.PLATFORM


def _ours(fields: tuple[str, ...]) -> Columns:
    return {name: (name,) for name in fields}


GENERIC = Preset(
    code="generic", orders=_ours(ORDER_FIELDS), cases=_ours(CASE_FIELDS), payment_provider=""
)

TAOBAO = Preset(
    code="taobao",
    orders={
        "order_number": ("订单编号",),
        "sku": ("商家编码", "商品编码"),
        "title": ("宝贝标题", "标题"),
        "quantity": ("购买数量", "宝贝数量"),
        "unit_price": ("价格", "单价"),
        "discount": ("优惠分摊",),
        "paid_amount": ("实付金额", "买家实付金额"),
        "shipping_fee": ("邮费", "买家应付邮费"),
        "placed_at": ("订单创建时间",),
        "paid_at": ("订单付款时间", "付款时间"),
        "shipped_at": ("发货时间",),
        "signed_at": ("确认收货时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("收货人姓名",),
        "phone": ("联系手机",),
        "courier": ("物流公司",),
        "tracking_number": ("物流单号",),
        "payment_reference": ("支付单号",),
    },
    cases={
        "external_id": ("退款编号",),
        "order_number": ("订单编号",),
        "case_type": ("售后类型", "退款类型"),
        "channel_status": ("退款状态",),
        "reason": ("退款原因",),
        "refund_amount": ("买家退款金额", "退款金额"),
        "customer_words": ("退款说明",),
        "sku": ("商家编码",),
        "quantity": ("退货数量", "数量"),
        "updated_at": ("修改时间", "退款申请时间"),
    },
)

JD = Preset(
    code="jd",
    orders={
        "order_number": ("订单号",),
        "sku": ("商家SKU", "商品编号"),
        "title": ("商品名称",),
        "quantity": ("订购数量",),
        "unit_price": ("京东价",),
        "discount": ("优惠金额",),
        "paid_amount": ("应付金额",),
        "shipping_fee": ("运费金额",),
        "placed_at": ("下单时间",),
        "paid_at": ("付款确认时间",),
        "shipped_at": ("出库时间",),
        "signed_at": ("完成时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("客户姓名",),
        "phone": ("联系电话",),
        "courier": ("快递公司",),
        "tracking_number": ("运单号",),
    },
    cases={
        "external_id": ("服务单号",),
        "order_number": ("订单号",),
        "case_type": ("服务类型",),
        "channel_status": ("服务单状态",),
        "reason": ("申请原因",),
        "refund_amount": ("退款金额",),
        "customer_words": ("问题描述",),
        "sku": ("商家SKU",),
        "quantity": ("申请数量",),
        "updated_at": ("更新时间",),
    },
)

PDD = Preset(
    code="pdd",
    orders={
        "order_number": ("订单号",),
        "sku": ("商家编码-SKU维度", "商家编码"),
        "title": ("商品",),
        "quantity": ("商品数量(件)",),
        "line_total": ("商品总价(元)",),
        "discount": ("店铺优惠折扣(元)",),
        "paid_amount": ("用户实付金额(元)",),
        "shipping_fee": ("邮费(元)",),
        "placed_at": ("订单成交时间",),
        "paid_at": ("支付时间",),
        "shipped_at": ("发货时间",),
        "signed_at": ("确认收货时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("收货人",),
        "phone": ("手机",),
        "courier": ("快递公司",),
        "tracking_number": ("快递单号",),
    },
    cases={
        "external_id": ("售后编号",),
        "order_number": ("订单号",),
        "case_type": ("售后类型",),
        "channel_status": ("售后状态",),
        "reason": ("售后原因",),
        "refund_amount": ("退款金额(元)",),
        "customer_words": ("售后说明",),
        "sku": ("商家编码-SKU维度",),
        "quantity": ("申请数量",),
        "updated_at": ("更新时间",),
    },
)

WECHAT = Preset(
    code="wechat",
    orders={
        "order_number": ("订单号",),
        "sku": ("SKU编码(自定义)", "商品编码(自定义)"),
        "title": ("商品名称",),
        "quantity": ("商品数量",),
        "unit_price": ("商品单价",),
        "discount": ("商品优惠",),
        "paid_amount": ("商品实付",),
        "shipping_fee": ("运费",),
        "placed_at": ("订单下单时间",),
        "paid_at": ("支付时间",),
        "shipped_at": ("发货时间",),
        "signed_at": ("确认收货时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("收件人姓名",),
        "phone": ("收件人手机",),
        "courier": ("快递公司",),
        "tracking_number": ("快递单号",),
        "payment_reference": ("支付单号",),
    },
    cases={
        "external_id": ("售后单号",),
        "order_number": ("订单号",),
        "case_type": ("售后类型",),
        "channel_status": ("售后状态",),
        "reason": ("售后原因",),
        "refund_amount": ("退款金额",),
        "customer_words": ("售后描述",),
        "sku": ("SKU编码(自定义)",),
        "quantity": ("售后数量",),
        "updated_at": ("更新时间",),
    },
)

DOUYIN = Preset(
    code="douyin",
    orders={
        "order_number": ("主订单编号",),
        "sku": ("商家编码",),
        "title": ("选购商品",),
        "quantity": ("商品数量",),
        "unit_price": ("商品单价",),
        "discount": ("优惠总金额",),
        "paid_amount": ("订单应付金额",),
        "shipping_fee": ("运费",),
        "placed_at": ("订单提交时间",),
        "paid_at": ("支付完成时间",),
        "shipped_at": ("发货时间",),
        "signed_at": ("订单完成时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("收件人",),
        "phone": ("收件人手机号",),
        "courier": ("快递公司",),
        "tracking_number": ("快递单号",),
    },
    cases={
        "external_id": ("售后单号",),
        "order_number": ("订单号",),
        "case_type": ("售后类型",),
        "channel_status": ("售后状态",),
        "reason": ("售后原因",),
        "refund_amount": ("退款金额",),
        "customer_words": ("售后描述",),
        "sku": ("商家编码",),
        "quantity": ("售后数量",),
        "updated_at": ("更新时间",),
    },
)

WEIDIAN = Preset(
    code="weidian",
    orders={
        "order_number": ("订单编号",),
        "sku": ("商品编码",),
        "title": ("商品名称",),
        "quantity": ("数量",),
        "unit_price": ("单价",),
        "discount": ("优惠",),
        "paid_amount": ("实付",),
        "shipping_fee": ("运费",),
        "placed_at": ("下单时间",),
        "paid_at": ("付款时间",),
        "shipped_at": ("发货时间",),
        "signed_at": ("收货时间",),
        "order_status": ("订单状态",),
        "buyer_name": ("收货人",),
        "phone": ("电话",),
        "courier": ("快递公司",),
        "tracking_number": ("快递单号",),
    },
    cases={
        "external_id": ("退款编号",),
        "order_number": ("订单编号",),
        "case_type": ("退款类型",),
        "channel_status": ("退款状态",),
        "reason": ("退款原因",),
        "refund_amount": ("退款金额",),
        "customer_words": ("退款说明",),
        "sku": ("商品编码",),
        "quantity": ("退货数量",),
        "updated_at": ("更新时间",),
    },
)

PRESETS: dict[str, Preset] = {
    p.code: p for p in (GENERIC, TAOBAO, JD, PDD, WECHAT, DOUYIN, WEIDIAN)
}
# A channel's own preset by its kind; anything else reads the generic template.
BY_KIND: dict[str, str] = {
    ChannelKind.TAOBAO: "taobao",
    ChannelKind.TMALL: "taobao",
    ChannelKind.JD: "jd",
    ChannelKind.PDD: "pdd",
    ChannelKind.WECHAT: "wechat",
    ChannelKind.DOUYIN: "douyin",
    ChannelKind.WEIDIAN: "weidian",
}


def preset_for(kind: str, code: str = "") -> Preset | None:
    """The named preset, or the channel kind's own; None for a name we do not know."""
    return PRESETS.get(code or BY_KIND.get(kind, "generic"))


# --------------------------------------------------------------------------- values

# An order the channel shows as cancelled or closed before it was paid or after a full refund.
CANCELLED_WORDS = frozenset(
    {"cancelled", "canceled", "交易关闭", "已取消", "订单取消", "已关闭", "交易取消", "取消"}
)

CASE_TYPE_WORDS: dict[str, str] = {
    **{t.value: t.value for t in CaseType},
    "仅退款": CaseType.REFUND_ONLY,
    "退款": CaseType.REFUND_ONLY,
    "未发货仅退款": CaseType.REFUND_ONLY,
    "已发货仅退款": CaseType.REFUND_ONLY,
    "退货退款": CaseType.RETURN_REFUND,
    "退货": CaseType.RETURN_REFUND,
    "换货": CaseType.EXCHANGE,
    "维修": CaseType.REPAIR,
    "补寄": CaseType.REISSUE,
    "投诉": CaseType.COMPLAINT,
    # JD's service types and Pinduoduo's numeric after_sales_type.
    "10": CaseType.RETURN_REFUND,
    "20": CaseType.EXCHANGE,
    "30": CaseType.REPAIR,
    "1": CaseType.REFUND_ONLY,
    "2": CaseType.RETURN_REFUND,
    "3": CaseType.EXCHANGE,
    "4": CaseType.REISSUE,
    "5": CaseType.REPAIR,
}

# The channels' reason texts; anything else is "other", with the words kept.
REASON_WORDS: dict[str, str] = {
    **{r.value: r.value for r in Reason},
    "七天无理由退换货": Reason.NO_REASON,
    "7天无理由退换货": Reason.NO_REASON,
    "不想要了": Reason.NO_REASON,
    "拍错/多拍": Reason.NO_REASON,
    "多拍/拍错/不想要": Reason.NO_REASON,
    "质量问题": Reason.QUALITY_DEFECT,
    "商品质量问题": Reason.QUALITY_DEFECT,
    "商品破损": Reason.DAMAGED_IN_TRANSIT,
    "包装/商品破损": Reason.DAMAGED_IN_TRANSIT,
    "发错货": Reason.WRONG_ITEM,
    "卖家发错货": Reason.WRONG_ITEM,
    "少件/漏发": Reason.MISSING_ITEM,
    "少件漏发": Reason.MISSING_ITEM,
    "描述不符": Reason.NOT_AS_DESCRIBED,
    "与商品描述不符": Reason.NOT_AS_DESCRIBED,
    "快递丢件": Reason.LOST_IN_TRANSIT,
    "未收到货": Reason.NOT_DELIVERED,
    "发货慢": Reason.LATE_SHIPMENT,
    "未按约定时间发货": Reason.LATE_SHIPMENT,
}
