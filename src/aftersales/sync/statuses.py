"""Each channel's own after-sales statuses, mapped onto ours (DESIGN §4) and ours back onto
theirs.

Inbound, a channel's code (the open API's, or the label its seller-centre export prints) names
one of our statuses; a terminal one also says how the case ended, where the channel knows it
(a closed Taobao refund was withdrawn; a Pinduoduo "13" expired). `SUCCESS` is read by the
case's type: a refund succeeded as refunded, an exchange as exchanged.

Outbound, our status names the status the channel shows for it, so a reply to the channel (or
an export in its vocabulary) speaks its language. Where a channel has no such step (Taobao has
no "inspecting") the nearest one it has stands in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from aftersales.cases.models import Outcome
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.channels.models import ChannelKind
from aftersales.core.errors import Invalid

S = CaseStatus
T = CaseType
K = ChannelKind
SUCCESS = "<success>"  # the outcome follows the case type


@dataclass(frozen=True)
class Mapped:
    status: str
    outcome: str = ""


def _m(status: str, outcome: str = "") -> Mapped:
    return Mapped(status, outcome)


_TAOBAO = {
    "WAIT_SELLER_AGREE": _m(S.AWAITING_MERCHANT),
    "WAIT_BUYER_RETURN_GOODS": _m(S.AWAITING_RETURN),
    "WAIT_SELLER_CONFIRM_GOODS": _m(S.RETURN_IN_TRANSIT),
    "SELLER_REFUSE_BUYER": _m(S.REJECTED),
    "CLOSED": _m(S.CLOSED, Outcome.WITHDRAWN),
    "SUCCESS": _m(S.SUCCEEDED, SUCCESS),
}
_TAOBAO_LABELS = {
    "买家已经申请退款，等待卖家同意": "WAIT_SELLER_AGREE",
    "卖家已经同意退款，等待买家退货": "WAIT_BUYER_RETURN_GOODS",
    "买家已经退货，等待卖家确认收货": "WAIT_SELLER_CONFIRM_GOODS",
    "卖家拒绝退款": "SELLER_REFUSE_BUYER",
    "退款关闭": "CLOSED",
    "退款成功": "SUCCESS",
}

_WECHAT = {
    "MERCHANT_PROCESSING": _m(S.AWAITING_MERCHANT),
    "USER_WAIT_CONFIRM": _m(S.AWAITING_CUSTOMER),
    "USER_WAIT_HANDLE_MERCHANT_AFTER_SALE": _m(S.AWAITING_CUSTOMER),
    "USER_WAIT_RETURN": _m(S.AWAITING_RETURN),
    "MERCHANT_WAIT_RECEIPT": _m(S.RETURN_IN_TRANSIT),
    "PLATFORM_REFUNDING": _m(S.REFUNDING),
    "MERCHANT_OVERDUE_REFUND": _m(S.REFUNDING),
    "PLATFORM_REFUND_FAIL": _m(S.AWAITING_MERCHANT),
    "MERCHANT_REFUND_RETRY_FAIL": _m(S.AWAITING_MERCHANT),
    "MERCHANT_REFUND_SUCCESS": _m(S.SUCCEEDED, SUCCESS),
    "MERCHANT_RETURN_SUCCESS": _m(S.SUCCEEDED, SUCCESS),
    "MERCHANT_REJECT_REFUND": _m(S.REJECTED),
    "MERCHANT_REJECT_RETURN": _m(S.REJECTED),
    "USER_CANCELD": _m(S.CLOSED, Outcome.WITHDRAWN),
    "RETURN_CLOSED": _m(S.CLOSED, Outcome.WITHDRAWN),
}
_WECHAT_LABELS = {
    "待商家处理": "MERCHANT_PROCESSING",
    "待买家退货": "USER_WAIT_RETURN",
    "待商家收货": "MERCHANT_WAIT_RECEIPT",
    "平台退款中": "PLATFORM_REFUNDING",
    "退款成功": "MERCHANT_REFUND_SUCCESS",
    "商家拒绝退款": "MERCHANT_REJECT_REFUND",
    "商家拒绝退货": "MERCHANT_REJECT_RETURN",
    "用户取消": "USER_CANCELD",
    "退货关闭": "RETURN_CLOSED",
}

# Pinduoduo's after_sales_status (pdd.refund.list.increment.get).
_PDD = {
    "2": _m(S.AWAITING_MERCHANT),  # 买家申请退款，待商家处理
    "3": _m(S.AWAITING_MERCHANT),  # 退货退款，待商家处理
    "4": _m(S.REFUNDING),  # 商家同意退款，退款中
    "5": _m(S.REFUNDING),  # 平台同意退款，退款中
    "6": _m(S.REJECTED),  # 驳回退款，待买家处理
    "7": _m(S.AWAITING_RETURN),  # 已同意退货退款，待用户发货
    "8": _m(S.AWAITING_MERCHANT),  # 平台处理中
    "9": _m(S.REJECTED),  # 平台拒绝退款，退款关闭
    "10": _m(S.SUCCEEDED, SUCCESS),  # 退款成功
    "11": _m(S.CLOSED, Outcome.WITHDRAWN),  # 买家撤销
    "12": _m(S.CLOSED, Outcome.EXPIRED),  # 买家逾期未处理，退款失败
    "13": _m(S.CLOSED, Outcome.EXPIRED),  # 买家逾期，超过有效期
    "14": _m(S.AWAITING_MERCHANT),  # 换货补寄待商家处理
    "15": _m(S.AWAITING_CUSTOMER),  # 换货补寄待用户处理
    "16": _m(S.SUCCEEDED, SUCCESS),  # 换货补寄成功
    "17": _m(S.REJECTED),  # 换货补寄失败
    "18": _m(S.SHIPPING_TO_CUSTOMER),  # 换货补寄待用户确认完成
    "21": _m(S.AWAITING_MERCHANT),  # 待商家同意维修
    "22": _m(S.PROCESSING),  # 待商家处理维修
    "23": _m(S.AWAITING_RETURN),  # 维修待用户确认发货
    "24": _m(S.SHIPPING_TO_CUSTOMER),  # 维修待用户确认收货
    "25": _m(S.SUCCEEDED, SUCCESS),  # 维修成功
    "26": _m(S.REJECTED),  # 维修失败
    "27": _m(S.PROCESSING),  # 补寄待商家发货
}

# JD's after-sales service order (售后服务单) status.
_JD = {
    "10": _m(S.AWAITING_MERCHANT),  # 申请阶段
    "21": _m(S.AWAITING_MERCHANT),  # 客服审核
    "22": _m(S.AWAITING_MERCHANT),  # 商家审核
    "20": _m(S.REJECTED),  # 审核不通过
    "31": _m(S.INSPECTING),  # 京东收货
    "32": _m(S.INSPECTING),  # 商家收货
    "33": _m(S.PROCESSING),  # 京东处理
    "34": _m(S.PROCESSING),  # 商家处理
    "40": _m(S.AWAITING_CUSTOMER),  # 用户确认
    "50": _m(S.SUCCEEDED, SUCCESS),  # 完成
    "60": _m(S.CLOSED, Outcome.WITHDRAWN),  # 取消
}

# Douyin (抖店) aftersale_status.
_DOUYIN = {
    "6": _m(S.AWAITING_MERCHANT),  # 售后申请
    "7": _m(S.AWAITING_RETURN),  # 售后退货中（待买家退货）
    "11": _m(S.RETURN_IN_TRANSIT),  # 售后已发货（买家已退货）
    "12": _m(S.SUCCEEDED, SUCCESS),  # 售后成功
    "13": _m(S.SHIPPING_TO_CUSTOMER),  # 换货/补寄：商家已发货
    "14": _m(S.SUCCEEDED, SUCCESS),  # 换货/补寄：用户已收货
    "27": _m(S.REJECTED),  # 拒绝售后申请
    "28": _m(S.CLOSED, Outcome.WITHDRAWN),  # 售后失败
    "29": _m(S.REJECTED),  # 退货后拒绝退款
    "51": _m(S.SUCCEEDED, SUCCESS),  # 订单取消成功
    "53": _m(S.SUCCEEDED, SUCCESS),  # 逆向交易已完成
}

# Weidian's export prints words, not codes.
_WEIDIAN = {
    "待卖家处理": _m(S.AWAITING_MERCHANT),
    "待买家退货": _m(S.AWAITING_RETURN),
    "待卖家收货": _m(S.RETURN_IN_TRANSIT),
    "退款中": _m(S.REFUNDING),
    "退款成功": _m(S.SUCCEEDED, SUCCESS),
    "卖家拒绝": _m(S.REJECTED),
    "退款关闭": _m(S.CLOSED, Outcome.WITHDRAWN),
}

# Our own vocabulary: the generic template, the web shop, stores and partners.
_OURS = {
    **{status.value: _m(status.value) for status in S},
    S.SUCCEEDED.value: _m(S.SUCCEEDED, SUCCESS),
    S.CLOSED.value: _m(S.CLOSED, Outcome.WITHDRAWN),
}

INBOUND: dict[str, dict[str, Mapped]] = {
    K.TAOBAO: _TAOBAO,
    K.TMALL: _TAOBAO,
    K.WECHAT: _WECHAT,
    K.PDD: _PDD,
    K.JD: _JD,
    K.DOUYIN: _DOUYIN,
    K.WEIDIAN: _WEIDIAN,
}
ALIASES: dict[str, dict[str, str]] = {
    K.TAOBAO: _TAOBAO_LABELS,
    K.TMALL: _TAOBAO_LABELS,
    K.WECHAT: _WECHAT_LABELS,
}

# Ours → theirs. Where the channel has no such step, the nearest one it has.
_TAOBAO_OUT = {
    S.AWAITING_MERCHANT: "WAIT_SELLER_AGREE",
    S.AWAITING_APPROVAL: "WAIT_SELLER_AGREE",
    S.AWAITING_CUSTOMER: "WAIT_SELLER_AGREE",
    S.AWAITING_RETURN: "WAIT_BUYER_RETURN_GOODS",
    S.RETURN_IN_TRANSIT: "WAIT_SELLER_CONFIRM_GOODS",
    S.INSPECTING: "WAIT_SELLER_CONFIRM_GOODS",
    S.PROCESSING: "WAIT_SELLER_CONFIRM_GOODS",
    S.SHIPPING_TO_CUSTOMER: "WAIT_SELLER_CONFIRM_GOODS",
    # Agreeing to a Taobao refund is the refund: the platform pays from escrow.
    S.REFUNDING: "SUCCESS",
    S.SUCCEEDED: "SUCCESS",
    S.REJECTED: "SELLER_REFUSE_BUYER",
    S.CLOSED: "CLOSED",
}
OUTBOUND: dict[str, dict[str, str]] = {
    K.TAOBAO: _TAOBAO_OUT,
    K.TMALL: _TAOBAO_OUT,
    K.WECHAT: {
        S.AWAITING_MERCHANT: "MERCHANT_PROCESSING",
        S.AWAITING_APPROVAL: "MERCHANT_PROCESSING",
        S.AWAITING_CUSTOMER: "USER_WAIT_CONFIRM",
        S.AWAITING_RETURN: "USER_WAIT_RETURN",
        S.RETURN_IN_TRANSIT: "MERCHANT_WAIT_RECEIPT",
        S.INSPECTING: "MERCHANT_WAIT_RECEIPT",
        S.PROCESSING: "MERCHANT_WAIT_RECEIPT",
        S.SHIPPING_TO_CUSTOMER: "MERCHANT_WAIT_RECEIPT",
        S.REFUNDING: "PLATFORM_REFUNDING",
        S.SUCCEEDED: "MERCHANT_REFUND_SUCCESS",
        S.REJECTED: "MERCHANT_REJECT_REFUND",
        S.CLOSED: "USER_CANCELD",
    },
    K.PDD: {
        S.AWAITING_MERCHANT: "2",
        S.AWAITING_APPROVAL: "2",
        S.AWAITING_CUSTOMER: "15",
        S.AWAITING_RETURN: "7",
        S.RETURN_IN_TRANSIT: "7",
        S.INSPECTING: "7",
        S.PROCESSING: "14",
        S.SHIPPING_TO_CUSTOMER: "18",
        S.REFUNDING: "4",
        S.SUCCEEDED: "10",
        S.REJECTED: "6",
        S.CLOSED: "11",
    },
    K.JD: {
        S.AWAITING_MERCHANT: "22",
        S.AWAITING_APPROVAL: "22",
        S.AWAITING_CUSTOMER: "40",
        S.AWAITING_RETURN: "22",
        S.RETURN_IN_TRANSIT: "22",
        S.INSPECTING: "32",
        S.PROCESSING: "34",
        S.SHIPPING_TO_CUSTOMER: "34",
        S.REFUNDING: "34",
        S.SUCCEEDED: "50",
        S.REJECTED: "20",
        S.CLOSED: "60",
    },
    K.DOUYIN: {
        S.AWAITING_MERCHANT: "6",
        S.AWAITING_APPROVAL: "6",
        S.AWAITING_CUSTOMER: "6",
        S.AWAITING_RETURN: "7",
        S.RETURN_IN_TRANSIT: "11",
        S.INSPECTING: "11",
        S.PROCESSING: "11",
        S.SHIPPING_TO_CUSTOMER: "13",
        S.REFUNDING: "12",
        S.SUCCEEDED: "12",
        S.REJECTED: "27",
        S.CLOSED: "28",
    },
    K.WEIDIAN: {
        S.AWAITING_MERCHANT: "待卖家处理",
        S.AWAITING_APPROVAL: "待卖家处理",
        S.AWAITING_CUSTOMER: "待卖家处理",
        S.AWAITING_RETURN: "待买家退货",
        S.RETURN_IN_TRANSIT: "待卖家收货",
        S.INSPECTING: "待卖家收货",
        S.PROCESSING: "待卖家收货",
        S.SHIPPING_TO_CUSTOMER: "待卖家收货",
        S.REFUNDING: "退款中",
        S.SUCCEEDED: "退款成功",
        S.REJECTED: "卖家拒绝",
        S.CLOSED: "退款关闭",
    },
}

_SUCCESS_OUTCOMES = {
    T.REFUND_ONLY: Outcome.REFUNDED,
    T.RETURN_REFUND: Outcome.REFUNDED,
    T.EXCHANGE: Outcome.EXCHANGED,
    T.REPAIR: Outcome.REPAIRED,
    T.REISSUE: Outcome.REISSUED,
    T.COMPLAINT: Outcome.EXPLAINED,
    T.PARTNER_DISPUTE: Outcome.EXPLAINED,
}


def canonical(kind: str, code: str) -> str:
    """The channel's API code for what its export printed (a label becomes its code)."""
    code = (code or "").strip()
    return ALIASES.get(kind, {}).get(code, code)


def to_ours(kind: str, code: str, case_type: str) -> Mapped:
    """Our status (and, for an ending, the outcome) for a channel's own status code."""
    code = canonical(kind, code)
    mapped = INBOUND.get(kind, _OURS).get(code)
    if mapped is None:
        raise Invalid(
            "channel.unknown_status",
            _("%(channel)s has no after-sales status %(code)s.")
            % {"channel": ChannelKind(kind).label, "code": code or "—"},
            {"channel_status": code},
        )
    if mapped.outcome == SUCCESS:
        return Mapped(mapped.status, _SUCCESS_OUTCOMES[case_type])
    return mapped


def to_theirs(kind: str, status: str) -> str:
    """The channel's own status code for one of ours."""
    if kind not in OUTBOUND:
        return CaseStatus(status).value
    return OUTBOUND[kind][status]
