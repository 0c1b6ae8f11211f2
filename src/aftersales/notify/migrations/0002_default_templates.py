"""The default message templates (shop = NULL) for the customer-facing case events, in
Simplified Chinese, English and Vietnamese, for email, SMS and WeChat. Shops override them
in the admin. The texts live here, not in app code: migrations import no app code."""

from django.db import migrations

# Per language: the email body around the event's line, then per event (subject, line).
# SMS sends the subject line; WeChat the subject as its title and the line as its remark.
BODIES = {
    "zh-hans": (
        "{% if customer_name %}{{ customer_name }}，{% endif %}您好：\n\n{line}\n\n"
        "售后单号：{{ case_number }}\n当前状态：{{ status }}\n\n{{ shop_name }}"
    ),
    "en": (
        "Hello{% if customer_name %} {{ customer_name }}{% endif %},\n\n{line}\n\n"
        "Case: {{ case_number }}\nStatus: {{ status }}\n\n{{ shop_name }}"
    ),
    "vi": (
        "Xin chào{% if customer_name %} {{ customer_name }}{% endif %},\n\n{line}\n\n"
        "Mã yêu cầu: {{ case_number }}\nTrạng thái: {{ status }}\n\n{{ shop_name }}"
    ),
}

QUOTE = {
    "zh-hans": "{% if quote_amount %}维修报价：{{ quote_amount }} {{ currency }}。{% endif %}",
    "en": "{% if quote_amount %} Repair quote: {{ quote_amount }} {{ currency }}.{% endif %}",
    "vi": "{% if quote_amount %} Báo giá sửa chữa: {{ quote_amount }} {{ currency }}.{% endif %}",
}

TEXTS = {
    "zh-hans": {
        "created": (
            "您的售后申请 {{ case_number }} 已提交",
            "我们已收到您的售后申请（{{ reason }}），会尽快处理。",
        ),
        "approve": (
            "您的售后申请 {{ case_number }} 已通过",
            "您的售后申请已审核通过。下一步：{{ status }}。",
        ),
        "reject": (
            "您的售后申请 {{ case_number }} 未通过",
            "很抱歉，您的申请未能通过：{{ note }}",
        ),
        "request_info": (
            "售后单 {{ case_number }} 需要您补充信息",
            "请回复我们的问题：{{ note }}" + QUOTE["zh-hans"],
        ),
        "receive": (
            "售后单 {{ case_number }} 的退货已签收",
            "您寄回的商品已到仓，正在检验。",
        ),
        "refund": (
            "售后单 {{ case_number }} 退款 {{ refund_amount }} {{ currency }}",
            "我们正在为您退款 {{ refund_amount }} {{ currency }}。",
        ),
        "ship": (
            "售后单 {{ case_number }} 的商品已发出",
            "商品已通过 {{ courier }} 寄出，运单号 {{ tracking_number }}。",
        ),
        "complete": (
            "您的售后单 {{ case_number }} 已完成",
            "您的售后已处理完成（{{ outcome }}），感谢您的耐心。",
        ),
        "cancel": ("您的售后单 {{ case_number }} 已撤销", "您的售后申请已按您的要求撤销。"),
        "close": ("您的售后单 {{ case_number }} 已关闭", "您的售后单已关闭（{{ outcome }}）。"),
        "comment": ("售后单 {{ case_number }} 有新回复", "{{ note }}"),
    },
    "en": {
        "created": (
            "We received your request {{ case_number }}",
            "We received your after-sales request ({{ reason }}) and will answer soon.",
        ),
        "approve": (
            "Your request {{ case_number }} is approved",
            "Your request has been approved. Next step: {{ status }}.",
        ),
        "reject": (
            "Your request {{ case_number }} was declined",
            "We are sorry, we cannot accept your request: {{ note }}",
        ),
        "request_info": (
            "We need more information for {{ case_number }}",
            "Please answer our question: {{ note }}" + QUOTE["en"],
        ),
        "receive": (
            "We received your return for {{ case_number }}",
            "Your returned item has arrived and is being inspected.",
        ),
        "refund": (
            "Refund of {{ refund_amount }} {{ currency }} for {{ case_number }}",
            "We are refunding {{ refund_amount }} {{ currency }} to you.",
        ),
        "ship": (
            "Your item for {{ case_number }} is on its way",
            "We shipped your item with {{ courier }}, tracking number {{ tracking_number }}.",
        ),
        "complete": (
            "Your request {{ case_number }} is completed",
            "Your request is completed ({{ outcome }}). Thank you for your patience.",
        ),
        "cancel": (
            "Your request {{ case_number }} is cancelled",
            "Your request has been cancelled as you asked.",
        ),
        "close": (
            "Your request {{ case_number }} is closed",
            "Your request has been closed ({{ outcome }}).",
        ),
        "comment": ("New message about {{ case_number }}", "{{ note }}"),
    },
    "vi": {
        "created": (
            "Chúng tôi đã nhận yêu cầu {{ case_number }}",
            "Chúng tôi đã nhận yêu cầu hậu mãi của bạn ({{ reason }}) và sẽ phản hồi sớm.",
        ),
        "approve": (
            "Yêu cầu {{ case_number }} đã được chấp nhận",
            "Yêu cầu của bạn đã được chấp nhận. Bước tiếp theo: {{ status }}.",
        ),
        "reject": (
            "Yêu cầu {{ case_number }} bị từ chối",
            "Rất tiếc, chúng tôi không thể chấp nhận yêu cầu của bạn: {{ note }}",
        ),
        "request_info": (
            "Cần thêm thông tin cho yêu cầu {{ case_number }}",
            "Vui lòng trả lời câu hỏi của chúng tôi: {{ note }}" + QUOTE["vi"],
        ),
        "receive": (
            "Đã nhận hàng trả lại cho yêu cầu {{ case_number }}",
            "Hàng bạn gửi trả đã đến kho và đang được kiểm tra.",
        ),
        "refund": (
            "Hoàn tiền {{ refund_amount }} {{ currency }} cho yêu cầu {{ case_number }}",
            "Chúng tôi đang hoàn {{ refund_amount }} {{ currency }} cho bạn.",
        ),
        "ship": (
            "Hàng của yêu cầu {{ case_number }} đang được giao",
            "Chúng tôi đã gửi hàng qua {{ courier }}, mã vận đơn {{ tracking_number }}.",
        ),
        "complete": (
            "Yêu cầu {{ case_number }} đã hoàn tất",
            "Yêu cầu của bạn đã được xử lý xong ({{ outcome }}). Cảm ơn bạn đã kiên nhẫn.",
        ),
        "cancel": (
            "Yêu cầu {{ case_number }} đã được hủy",
            "Yêu cầu của bạn đã được hủy theo đề nghị của bạn.",
        ),
        "close": (
            "Yêu cầu {{ case_number }} đã đóng",
            "Yêu cầu của bạn đã được đóng ({{ outcome }}).",
        ),
        "comment": ("Tin nhắn mới về yêu cầu {{ case_number }}", "{{ note }}"),
    },
}


def default_rows():
    for language, events in TEXTS.items():
        for event, (subject, line) in events.items():
            body = BODIES[language].replace("{line}", line)
            yield event, "email", language, subject, body
            yield event, "sms", language, "", subject
            yield event, "wechat", language, subject, line


def install(apps, schema_editor):
    MessageTemplate = apps.get_model("notify", "MessageTemplate")
    MessageTemplate.objects.bulk_create(
        [
            MessageTemplate(
                shop=None, event=event, channel=channel, language=language, subject=s, body=b
            )
            for event, channel, language, s, b in default_rows()
        ]
    )


def uninstall(apps, schema_editor):
    apps.get_model("notify", "MessageTemplate").objects.filter(shop__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("notify", "0001_outbox_templates_accounts_broadcasts")]

    operations = [migrations.RunPython(install, uninstall)]
