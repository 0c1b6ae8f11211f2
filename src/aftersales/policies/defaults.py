"""The default policy: DESIGN §5 written as data. A merchant can change every rule."""

from __future__ import annotations

from typing import Any

QUALITY_REASONS = [
    "quality_defect",
    "damaged_in_transit",
    "wrong_item",
    "not_as_described",
]


def _rule(key: str, title: str, when: list | None, then: list, zh: str, en: str, vi: str) -> dict:
    rule: dict[str, Any] = {"key": key, "title": title, "then": then}
    if when is not None:
        rule["when"] = {"all": when}
    rule["explain"] = {"zh-hans": zh, "en": en, "vi": vi}
    return rule


def _f(fact: str, op: str, value: Any = None) -> dict:
    cond: dict[str, Any] = {"fact": fact, "op": op}
    if value is not None:
        cond["value"] = value
    return cond


DEFAULT_POLICY: dict[str, Any] = {
    "name": "默认售后政策 (DESIGN §5)",
    "rules": [
        # Approvals by amount: modifiers, so they apply to whatever rule decides below.
        _rule(
            "approval_manager_above_2000",
            "Refunds above 2,000 need a manager",
            [_f("refund_amount", "gt", "2000")],
            [{"action": "require_approval", "role": "manager"}],
            "退款金额超过 2000 元，需主管审批。",
            "Refunds above 2,000 need a manager's approval.",
            "Hoàn tiền trên 2.000 cần quản lý phê duyệt.",
        ),
        _rule(
            "approval_lead_above_200",
            "Refunds above 200 need a team lead",
            [_f("refund_amount", "gt", "200"), _f("refund_amount", "lte", "2000")],
            [{"action": "require_approval", "role": "team_lead"}],
            "退款金额超过 200 元，需组长审批。",
            "Refunds above 200 need a team lead's approval.",
            "Hoàn tiền trên 200 cần trưởng nhóm phê duyệt.",
        ),
        _rule(
            "lightning_refund",
            "Lightning refund at the return's first courier scan, for low-risk customers",
            [
                _f("type", "eq", "return_refund"),
                _f("return_scanned", "is_true"),
                _f("customer_risk_level", "eq", "low"),
            ],
            [{"action": "auto_approve"}],
            "退货已揽收，极速退款已发起。",
            "Your return has its first courier scan: lightning refund issued.",
            "Hàng trả đã được nhận gửi: hoàn tiền nhanh đã được thực hiện.",
        ),
        _rule(
            "blocked_customer",
            "Blocked customers go to a person",
            [_f("customer_risk_level", "eq", "blocked")],
            [{"action": "route_to_person", "recommend": "reject"}],
            "该客户在黑名单中，由人工审核。",
            "This customer is on the blocklist; a person reviews the case.",
            "Khách hàng nằm trong danh sách chặn; nhân viên sẽ xem xét.",
        ),
        # --- refund only
        _rule(
            "refund_only_unshipped",
            "Refund only, not shipped: refund at once",
            [
                _f("type", "eq", "refund_only"),
                _f("order_status", "eq", "paid"),
                _f("custom_made", "is_false"),
            ],
            [{"action": "auto_approve", "refund_shipping": True}],
            "订单尚未发货，已同意仅退款，全额退回（含运费）。",
            "The order has not shipped: refund approved in full, shipping included.",
            "Đơn chưa giao: đồng ý hoàn toàn bộ tiền, gồm cả phí vận chuyển.",
        ),
        _rule(
            "refund_only_no_courier_movement",
            "Refund only, shipped, no courier movement for 72 h: refund",
            [
                _f("type", "eq", "refund_only"),
                _f("order_status", "eq", "shipped"),
                _f("hours_without_courier_movement", "gte", 72),
            ],
            [{"action": "auto_approve"}],
            "包裹已超过 72 小时无物流更新，已同意退款。",
            "The parcel has shown no courier movement for 72 hours: refund approved.",
            "Bưu kiện không có cập nhật vận chuyển trong 72 giờ: đồng ý hoàn tiền.",
        ),
        _rule(
            "refund_only_in_transit_intercept",
            "Refund only, parcel moving: intercept, refund when it succeeds",
            [_f("type", "eq", "refund_only"), _f("order_status", "eq", "shipped")],
            [{"action": "intercept"}],
            "包裹运输中，已申请拦截，拦截成功后退款。",
            "The parcel is in transit: we asked the courier to intercept it, and refund when "
            "the intercept succeeds.",
            "Bưu kiện đang vận chuyển: đã yêu cầu chặn hàng, hoàn tiền khi chặn thành công.",
        ),
        _rule(
            "refund_only_signed_no_quality_reason",
            "Refund only after signature without a quality reason: a person, recommend reject",
            [
                _f("type", "eq", "refund_only"),
                _f("order_status", "eq", "signed"),
                _f("quality_reason", "is_false"),
            ],
            [{"action": "route_to_person", "recommend": "reject"}],
            "已签收且非质量问题申请仅退款，建议拒绝，由人工确认。",
            "Signed for and no quality problem given: a person decides, recommended reject.",
            "Đã ký nhận và không có lỗi chất lượng: nhân viên quyết định, đề xuất từ chối.",
        ),
        # --- 7-day no-reason returns
        _rule(
            "no_reason_excluded_category",
            "No-reason return of an excluded product",
            [
                _f("reason", "eq", "no_reason"),
                _f("type", "in", ["return_refund", "exchange"]),
                _f("no_reason_eligible", "is_false"),
            ],
            [{"action": "auto_reject"}],
            "该商品（定制、生鲜、已拆封数字商品、报刊等）不支持七天无理由退货。",
            "This product (custom-made, perishable, opened digital goods, periodicals …) "
            "is not eligible for a no-reason return.",
            "Sản phẩm này (đặt làm riêng, tươi sống, hàng số đã mở …) không áp dụng đổi trả "
            "không lý do.",
        ),
        _rule(
            "no_reason_window_passed",
            "No-reason return more than 7 days after signature",
            [
                _f("reason", "eq", "no_reason"),
                _f("type", "in", ["return_refund", "exchange"]),
                _f("days_since_signature", "gt", 7),
            ],
            [{"action": "auto_reject"}],
            "已超过签收后 7 天的无理由退货期限。",
            "The 7-day no-reason return window after signature has passed.",
            "Đã quá thời hạn 7 ngày đổi trả không lý do kể từ khi ký nhận.",
        ),
        _rule(
            "no_reason_insured",
            "No-reason return within 7 days, shipping insurance pays postage",
            [
                _f("reason", "eq", "no_reason"),
                _f("type", "in", ["return_refund", "exchange"]),
                _f("shipping_insurance", "is_true"),
            ],
            [{"action": "auto_approve", "return_shipping_paid_by": "insurance"}],
            "符合七天无理由退货，运费险承担退货运费。",
            "Eligible 7-day no-reason return; shipping insurance pays the return postage.",
            "Đủ điều kiện đổi trả 7 ngày; bảo hiểm vận chuyển trả phí gửi lại.",
        ),
        _rule(
            "no_reason_within_7_days",
            "No-reason return within 7 days: approve, customer pays return shipping",
            [_f("reason", "eq", "no_reason"), _f("type", "in", ["return_refund", "exchange"])],
            [{"action": "auto_approve", "return_shipping_paid_by": "customer"}],
            "符合七天无理由退货，退货运费由买家承担。",
            "Eligible 7-day no-reason return; the customer pays the return postage.",
            "Đủ điều kiện đổi trả 7 ngày; khách hàng trả phí gửi lại.",
        ),
        # --- lost or missing
        _rule(
            "lost_or_missing_disproved",
            "Lost parcel or missing item that our records disprove: a person",
            [
                _f("reason", "in", ["lost_in_transit", "missing_item"]),
                _f("warehouse_disproves", "is_true"),
            ],
            [{"action": "route_to_person", "recommend": "reject"}],
            "仓库或快递称重记录与申请不符，由人工核实。",
            "Warehouse or courier weight records contradict the claim; a person checks it.",
            "Hồ sơ cân nặng của kho hoặc hãng vận chuyển mâu thuẫn với yêu cầu; "
            "nhân viên kiểm tra.",
        ),
        _rule(
            "lost_or_missing_reissue",
            "Lost parcel or missing item: reissue free",
            [
                _f("reason", "in", ["lost_in_transit", "missing_item"]),
                _f("type", "eq", "reissue"),
            ],
            [{"action": "auto_approve", "outcome": "reissued"}],
            "仓库与快递记录未能否定申请，免费补寄。",
            "Our warehouse and courier records do not disprove the claim: we reissue free.",
            "Hồ sơ kho và vận chuyển không bác bỏ yêu cầu: gửi bù miễn phí.",
        ),
        # --- damaged long after signature
        _rule(
            "damaged_late_needs_photos",
            "Damaged, signed 30+ days ago, no photos: ask for them",
            [
                _f("reason", "eq", "damaged_in_transit"),
                _f("days_since_signature", "gt", 30),
                _f("evidence_kinds", "lacks_any", ["outer_package", "damaged_part"]),
            ],
            [{"action": "require_evidence", "kinds": ["outer_package", "damaged_part"]}],
            "签收已超过 30 天，请上传外包装和损坏部位的照片。",
            "Signed more than 30 days ago: please upload photos of the outer package and the "
            "damaged part.",
            "Đã ký nhận hơn 30 ngày: vui lòng tải ảnh bao bì ngoài và bộ phận hư hỏng.",
        ),
        _rule(
            "damaged_late_reissue_part",
            "Damaged, signed 30+ days ago, with photos: reissue the part",
            [
                _f("reason", "eq", "damaged_in_transit"),
                _f("days_since_signature", "gt", 30),
                _f("type", "eq", "reissue"),
            ],
            [{"action": "auto_approve", "outcome": "reissued"}],
            "照片已收到，为您补发损坏的配件。",
            "Photos received: we send the damaged part again.",
            "Đã nhận ảnh: chúng tôi gửi bù bộ phận hư hỏng.",
        ),
        # --- keep the item
        _rule(
            "keep_item_cheaper_than_return",
            "Worth less than the return postage: refund, keep the item",
            [
                _f("type", "eq", "return_refund"),
                _f("quality_reason", "is_true"),
                _f("refund_amount", "lte", "10.00"),
            ],
            [{"action": "auto_approve", "keep_item": True}],
            "商品价值低于退货运费，直接退款，无需退回。",
            "The item is worth less than sending it back: refunded, keep the item.",
            "Giá trị hàng thấp hơn phí gửi lại: hoàn tiền, khách giữ hàng.",
        ),
        # --- quality faults
        _rule(
            "quality_fault_merchant_pays",
            "Defect, wrong or damaged item: approve, we pay the return postage",
            [
                _f("reason", "in", QUALITY_REASONS),
                _f("type", "in", ["return_refund", "exchange", "reissue"]),
            ],
            [{"action": "auto_approve", "return_shipping_paid_by": "merchant"}],
            "商品质量/错发/破损问题，已同意售后，退货运费由商家承担。",
            "A defect, wrong or damaged item: approved, and we pay the return postage.",
            "Lỗi chất lượng, giao sai hoặc hư hỏng: đồng ý, người bán trả phí gửi lại.",
        ),
        # --- repairs
        _rule(
            "repair_in_warranty",
            "Repair within warranty: free",
            [_f("type", "eq", "repair"), _f("in_warranty", "is_true")],
            [{"action": "auto_approve", "outcome": "repaired"}],
            "在保修期内，免费维修，请寄回商品。",
            "Within warranty: the repair is free; please send the item in.",
            "Trong thời hạn bảo hành: sửa miễn phí; vui lòng gửi sản phẩm về.",
        ),
        _rule(
            "repair_out_of_warranty_quote",
            "Repair out of warranty: quote parts + labour first",
            [_f("type", "eq", "repair"), _f("in_warranty", "is_false")],
            [{"action": "quote_repair"}],
            "已过保修期，维修费用为配件费加人工费，请确认报价后寄回。",
            "Out of warranty: the repair costs parts plus labour; accept the quote first.",
            "Hết bảo hành: phí sửa gồm linh kiện và công; vui lòng chấp nhận báo giá trước.",
        ),
        # Everything else: a person decides.
        _rule(
            "everything_else",
            "Anything else goes to an agent",
            None,
            [{"action": "route_to_person", "recommend": "none"}],
            "由客服人工处理。",
            "An agent will handle this case.",
            "Nhân viên sẽ xử lý trường hợp này.",
        ),
    ],
}
