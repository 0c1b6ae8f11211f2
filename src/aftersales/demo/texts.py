"""What the demo merchant says and sells: catalog, people, names and the Chinese case texts.

Kept apart from the builder so the loader reads as logic and this file as content. All
names, phone numbers and order numbers the builder makes from these are fictional.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from aftersales.cases.models import Disposition, Emotion, Grade, Reason
from aftersales.cases.states import CaseStatus, CaseType
from aftersales.channels.models import ChannelKind

R = Reason
CT = CaseType

# --------------------------------------------------------------------------- shop

CHANNELS = [
    (ChannelKind.TAOBAO, "taobao", "栖木生活旗舰店（淘宝）"),
    (ChannelKind.PDD, "pdd", "栖木生活官方旗舰店（拼多多）"),
    (ChannelKind.WECHAT, "wechat", "栖木生活（微信小店）"),
    (ChannelKind.PARTNER, "partners", "栖木城市合伙人（分销网络）"),
]


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    no_reason_return: bool = True
    perishable: bool = False
    custom_made: bool = False
    digital: bool = False


CATEGORIES = [
    CategorySpec("phone-accessories", "手机配件"),
    CategorySpec("digital", "数码", digital=True),
    CategorySpec("small-appliances", "小家电"),
    CategorySpec("home", "家居日用"),
    CategorySpec("personal-care", "个护健康"),
    # The law excludes both from 7-day no-reason returns.
    CategorySpec("fresh-food", "生鲜食品", no_reason_return=False, perishable=True),
    CategorySpec("custom-gifts", "定制礼品", no_reason_return=False, custom_made=True),
]

FRESH_SKU_PREFIX = "QM-FR"

# category → (SKU, name, price, warranty months, parts price list "name:price|…")
PRODUCTS: dict[str, list[tuple[str, str, str, int, str]]] = {
    "phone-accessories": [
        ("QM-PA01", "65W氮化镓快充充电器", "129.00", 12, "折叠插脚组件:15|外壳:12"),
        ("QM-PA02", "20000mAh大容量移动电源", "169.00", 12, "电芯模组:69|Type-C接口板:25"),
        ("QM-PA03", "Type-C编织快充数据线 1.5米", "29.90", 6, "接头护套:5|理线扣:3"),
        ("QM-PA04", "15W磁吸无线充电器", "199.00", 12, "磁吸线圈模组:79|USB-C线:19"),
        ("QM-PA05", "透明防摔手机壳", "39.90", 3, "按键帽:5|镜头圈:8"),
        ("QM-PA06", "高清钢化膜（两片装）", "29.90", 3, "贴膜神器:5|除尘贴:2"),
        ("QM-PA07", "车载磁吸手机支架", "79.00", 12, "出风口夹:15|引磁片(2片):9"),
        ("QM-PA08", "蓝牙自拍杆三脚架", "89.00", 12, "蓝牙遥控器:19|手机夹:15"),
        ("QM-PA09", "半导体手机散热背夹", "129.00", 12, "散热风扇:39|夹臂:19|USB线:12"),
    ],
    "digital": [
        ("QM-DG01", "真无线降噪耳机 Pro", "499.00", 12, "左耳机:199|右耳机:199|充电仓:159"),
        ("QM-DG02", "智能手表 S3", "899.00", 12, "表带:69|充电底座:49|屏幕总成:299"),
        ("QM-DG03", "智能运动手环 7", "249.00", 12, "腕带:29|充电夹:19"),
        ("QM-DG04", "87键机械键盘（茶轴）", "399.00", 12, "键帽套装:79|轴体(10颗):29"),
        ("QM-DG05", "无线静音鼠标", "99.00", 12, "USB接收器:29|电池盖:5"),
        ("QM-DG06", "1080P高清网络摄像头", "259.00", 12, "支架:29|USB线:15"),
        ("QM-DG07", "6英寸墨水屏电子阅读器", "699.00", 12, "屏幕总成:399|电池:89|保护套:69"),
        ("QM-DG08", "迷你智能音箱", "199.00", 12, "电源适配器:29|底座:19"),
    ],
    "small-appliances": [
        ("QM-HA01", "5L大容量空气炸锅", "329.00", 12, "炸篮:79|电源线:25|温控器:59"),
        ("QM-HA02", "扫地机器人 T10", "2499.00", 24, "边刷(2个):29|HEPA滤网:39|锂电池:299"),
        ("QM-HA03", "1.7L不锈钢电热水壶", "129.00", 12, "壶盖:29|底座:49"),
        ("QM-HA04", "破壁料理机", "599.00", 24, "刀组:89|搅拌杯:129|电机:259"),
        ("QM-HA05", "4L IH电饭煲", "799.00", 24, "内胆:159|密封圈:19|电源线:25"),
        ("QM-HA06", "高速负离子吹风机", "299.00", 12, "风嘴:29|过滤网罩:19"),
        ("QM-HA07", "4L上加水加湿器", "199.00", 12, "雾化片:39|水箱:59"),
        ("QM-HA08", "无线除螨仪", "399.00", 12, "尘杯:49|滤网:29|电池:129"),
        ("QM-HA09", "空气净化器 Max", "1899.00", 24, "复合滤芯:299|PM2.5传感器:89|风机:399"),
    ],
    "home": [
        ("QM-HM01", "慢回弹记忆棉枕", "159.00", 3, "枕套:39"),
        ("QM-HM02", "全棉四件套 1.8米床", "299.00", 0, "枕套(一对):59|被套:159"),
        ("QM-HM03", "316不锈钢保温杯 500ml", "129.00", 12, "杯盖:29|密封圈(2个):9"),
        ("QM-HM04", "不锈钢锅具三件套", "599.00", 24, "玻璃锅盖:49|锅柄:19"),
        ("QM-HM05", "大号收纳箱三件套", "89.00", 0, "箱盖:15|滚轮(4个):12"),
        ("QM-HM06", "LED护眼台灯", "229.00", 12, "电源适配器:39|灯头:89"),
        ("QM-HM07", "超声波香薰机", "169.00", 12, "雾化片:29|电源适配器:25"),
    ],
    "personal-care": [
        ("QM-PC01", "声波电动牙刷", "199.00", 12, "刷头(3支装):59|充电座:39"),
        ("QM-PC02", "便携冲牙器", "299.00", 12, "喷头(4支装):49|水箱:39"),
        ("QM-PC03", "三刀头电动剃须刀", "359.00", 24, "刀头:129|充电线:19"),
        ("QM-PC04", "迷你筋膜枪", "499.00", 12, "按摩头套装:59|电池:149"),
        ("QM-PC05", "智能体脂秤", "129.00", 12, "电池仓盖:9"),
        ("QM-PC06", "上臂式电子血压计", "239.00", 24, "袖带:69|电源适配器:29"),
    ],
    "fresh-food": [
        ("QM-FR01", "智利车厘子 JJ级 2斤装", "139.00", 0, "冰袋:3|保温泡沫箱:8"),
        ("QM-FR02", "阳光玫瑰青提 2斤装", "69.90", 0, "冰袋:3|防震网套:2"),
        ("QM-FR03", "赣南脐橙 10斤装", "59.90", 0, "加厚纸箱:5"),
        ("QM-FR04", "大闸蟹礼盒 8只装", "398.00", 0, "冰袋:3|礼盒:25"),
        ("QM-FR05", "澳洲原切西冷牛排 10片", "199.00", 0, "冰袋:3|保温袋:6"),
        ("QM-FR06", "海南妃子笑荔枝 3斤装", "89.00", 0, "冰袋:3|保温泡沫箱:8"),
    ],
    "custom-gifts": [
        ("QM-CG01", "定制刻字保温杯", "169.00", 12, "杯盖:29|礼盒:15"),
        ("QM-CG02", "照片定制水晶摆件", "259.00", 0, "LED发光底座:49"),
        ("QM-CG03", "刻字钢笔礼盒", "299.00", 12, "笔尖:59|墨囊(6支):12"),
        ("QM-CG04", "定制刻字U盘 64G", "79.00", 12, "挂绳:5|金属外壳:19"),
        ("QM-CG05", "定制情侣手链（一对）", "199.00", 0, "延长链:19|礼盒:15"),
    ],
}

# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Person:
    username: str  # pinyin, so the API is easy to try from a shell
    role: str
    surname: str
    given_name: str
    team: int | None = None
    lead_of: int | None = None


TEAMS = ["售后一组", "售后二组"]
# The team whose queue takes every case that names no team.
MAIN_TEAM = 0

PEOPLE = [
    Person("admin", "admin", "系统", "管理员"),
    Person("xiaomei", "agent", "林", "小美", team=0),
    Person("chenyu", "agent", "陈", "雨", team=0),
    Person("zhouting", "agent", "周", "婷", team=1),
    Person("wanghao", "agent", "王", "浩", team=1),
    Person("liqiang", "team_lead", "李", "强", team=0, lead_of=0),
    Person("zhaomin", "team_lead", "赵", "敏", team=1, lead_of=1),
    Person("sunli", "manager", "孙", "丽"),
    Person("liujianguo", "warehouse", "刘", "建国"),
    Person("huangjing", "finance", "黄", "静"),
    Person("xuqing", "qa", "许", "晴"),
    Person("channel-sync", "integration", "渠道", "同步"),
]

# --------------------------------------------------------------------------- customers

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶"
    "程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝"
)
GIVEN_NAME_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲芬燕彩春菊凤洁梅琳云莲雪荣倩婷"
    "颖露瑶怡丹蓉君琴薇晓欣宁悦浩宇轩然涵睿博文俊哲鑫鹏辉晨阳思佳嘉航宏志建国海峰"
)
PHONE_PREFIXES = ["138", "139", "137", "136", "135", "158", "159", "186", "187", "188", "150"]
PHONE_PREFIXES += ["151", "177", "199", "133", "180"]
# Customers' mail goes to the domains reserved for examples, never to a real mailbox.
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]
# A few buyers write in other languages, so notifications in vi/en have someone to reach.
FOREIGN_CUSTOMERS = [
    ("Nguyễn Thị Lan", "vi"),
    ("Trần Văn Minh", "vi"),
    ("Phạm Thu Hà", "vi"),
    ("Emily Zhang", "en"),
    ("David Liu", "en"),
]

# courier → how often it carries the shop's parcels
COURIERS = {"中通": 35, "圆通": 25, "韵达": 20, "顺丰": 20}
TRACKING_FORMATS = {"顺丰": ("SF", 13), "中通": ("78", 13), "圆通": ("YT", 13), "韵达": ("43", 13)}

# --------------------------------------------------------------------------- filing texts


@dataclass(frozen=True)
class Words:
    customer_words: str
    emotion: str
    facts: str
    expectation: str


# reason → (what the customer said, the facts the agent pinned down, what a complainer wants)
REASON_TEXTS: dict[str, list[tuple[str, str, str]]] = {
    R.NO_REASON: [
        (
            "{item}收到了，试了一下不太合适，包装都没拆，想退掉。",
            "签收后七天内申请无理由退货，顾客称未拆封、未使用。",
            "按七天无理由退货",
        ),
        (
            "拍的时候没看清规格，{item}买错了，可以退吗？",
            "顾客拍错规格，申请七天无理由退货，商品未使用。",
            "退货退款",
        ),
        (
            "家里人已经买了一个一样的{item}，这个用不上了。",
            "重复购买，商品未拆封，在无理由退货期内。",
            "退货退款",
        ),
    ],
    R.QUALITY_DEFECT: [
        (
            "{item}用了不到一周就开不了机了，充电也没反应。",
            "顾客称正常使用数天后无法开机，疑似主板或电池故障，需检测。",
            "给个说法，尽快处理",
        ),
        (
            "{item}一开机就有很大的异响，晚上根本没法用。",
            "运行噪音异常，顾客已发视频，初步判断为电机问题。",
            "尽快处理",
        ),
        (
            "刚拆开{item}就发现外壳有裂纹，这质量也太差了吧！",
            "开箱即有裂纹，外包装完好，可排除运输挤压。",
            "给个说法",
        ),
        (
            "{item}按键失灵，要按好几下才有反应。",
            "按键接触不良，属批次常见质量问题。",
            "尽快处理",
        ),
    ],
    R.DAMAGED_IN_TRANSIT: [
        (
            "快递送到的时候箱子都压扁了，{item}摔坏了。",
            "外包装明显破损，顾客已拍外箱和破损部位照片，{courier}运输途中受压。",
            "赔偿",
        ),
        (
            "{item}外壳磕掉了一块，盒子一角也是破的。",
            "运输磕碰，外箱破损，商品外观受损。",
            "赔偿",
        ),
    ],
    R.WRONG_ITEM: [
        (
            "我买的是白色的，发来的是黑色的{item}！",
            "仓库拣货错误，颜色与订单不符，已核对出库单。",
            "尽快处理",
        ),
        (
            "收到的根本不是{item}，是别人的东西吧？",
            "错发商品，需核对仓库出库称重记录。",
            "尽快处理",
        ),
    ],
    R.MISSING_ITEM: [
        (
            "{item}包装里少了配件，说明书也没有。",
            "配件缺失，核对出库清单后需补寄配件。",
            "补发",
        ),
        (
            "买了两件只收到一件，包裹是完好的。",
            "订单数量与实收不符，需查出库称重记录和快递揽收重量。",
            "补发",
        ),
    ],
    R.NOT_AS_DESCRIBED: [
        (
            "{item}和详情页图片差太多了，颜色完全不一样。",
            "实物与详情页存在明显色差，顾客提供了对比照片。",
            "给个说法",
        ),
        (
            "页面上说续航30小时，{item}实际用不到10小时。",
            "续航与宣传不符，需技术部门确认测试条件。",
            "要求按宣传兑现或退款",
        ),
    ],
    R.LOST_IN_TRANSIT: [
        (
            "物流五天没更新了，{item}是不是丢了？",
            "{courier}轨迹停滞超过72小时，已联系快递网点查件。",
            "尽快处理",
        ),
        (
            "快递显示已签收，但我根本没收到，问了驿站也没有。",
            "物流显示签收但顾客未收到，已向{courier}发起查件。",
            "尽快处理",
        ),
    ],
    R.NOT_DELIVERED: [
        (
            "都一个星期了还没送到，不要了，给我退款吧。",
            "包裹仍在途，{courier}派送延误，顾客要求退款。",
            "退款",
        ),
        (
            "快递一直显示在中转站，催了也没用。",
            "物流滞留中转站超过48小时，已申请拦截。",
            "退款",
        ),
    ],
    R.LATE_SHIPMENT: [
        (
            "付款三天了还没发货，不是说48小时内发货吗？",
            "付款后超过48小时未发货，违反发货承诺。",
            "赔偿并马上发货",
        ),
        (
            "说好的48小时发货，拖到第四天才发，生日礼物都赶不上了。",
            "发货超时，顾客因此错过使用时间。",
            "要求赔偿",
        ),
    ],
    R.FUNDS_NOT_RECEIVED: [
        (
            "退款说已经退了，可我支付宝里一直没到账！",
            "系统显示退款已发起，顾客称未到账，需核对支付流水。",
            "马上把钱退给我",
        ),
    ],
    R.UNEXPECTED_CHARGE: [
        (
            "我明明领了优惠券，结算的时候却没抵扣，多扣了钱。",
            "优惠券未正确核销，差额需退还。",
            "退还多扣的钱",
        ),
    ],
    R.USAGE_QUESTION: [
        (
            "{item}怎么连接手机APP？说明书看不懂。",
            "使用咨询，已发送图文教程和视频链接。",
            "教我怎么用",
        ),
        (
            "{item}的配件多久换一次？在哪里能买到？",
            "耗材更换咨询，已告知更换周期和配件购买链接。",
            "告诉我怎么买配件",
        ),
    ],
    R.POLICY_QUESTION: [
        (
            "定制的东西真的不能退吗？我只是刻字刻错了一个字。",
            "定制商品不适用七天无理由退货，刻字内容为顾客本人提交。",
            "希望能通融退换",
        ),
        (
            "生鲜到了有几个坏的，能赔吗？怎么赔？",
            "咨询生鲜坏果理赔规则，已告知需签收后24小时内拍照反馈。",
            "按规则理赔",
        ),
    ],
    R.SERVICE_ATTITUDE: [
        (
            "你们客服态度太差了，问了三遍都不回，回了就一句'亲，不支持哦'。",
            "顾客对客服响应速度和态度不满，已调取聊天记录。",
            "要求道歉，处理这个客服",
        ),
        (
            "打了三次电话都没人接，到底有没有人管？",
            "顾客来电三次未接通，核实为高峰期排队。",
            "给个说法",
        ),
    ],
    R.OTHER: [
        (
            "发票抬头开错了，麻烦重新开一张。",
            "需重开电子发票，原抬头有误。",
            "重开发票",
        ),
        (
            "包裹里的赠品没有收到，活动页面写了买就送的。",
            "活动赠品漏发，已核对活动规则。",
            "补发赠品",
        ),
    ],
}

# Refund-only on an order that has not shipped: the customer changed their mind.
UNSHIPPED_TEXTS: dict[str, list[tuple[str, str]]] = {
    R.NO_REASON: [
        ("拍错了，还没发货的话麻烦直接退款。", "订单已付款未发货，顾客拍错申请退款。"),
        ("不想要了，在别家买了，没发货就退了吧。", "订单未发货，顾客申请退款。"),
    ],
    R.OTHER: [
        ("地址填错了，先退款我重新拍。", "收货地址有误，订单未发货，顾客申请退款后重拍。"),
    ],
    R.LATE_SHIPMENT: [
        ("付款两天多了还不发货，不等了，退款！", "付款后超过48小时未发货，顾客申请退款。"),
    ],
}

# Fresh food goes bad rather than breaking.
FRESH_TEXTS = [
    (
        "{item}到了一半都坏了，还有股味道，怎么吃？",
        "生鲜到货部分腐坏，顾客签收后2小时内反馈并附照片，坏果约一半。",
    ),
    (
        "{item}泡沫箱破了，冰袋早化了，东西都不新鲜了。",
        "冷链包装破损，到货温度过高，顾客已拍照。",
    ),
]

SAFETY_TEXTS = [
    (
        "{item}充电的时候发烫冒烟，差点着火！吓死我了。",
        "顾客称充电时严重发热冒烟，存在安全隐患，需立即回收检测并排查同批次。",
    ),
    (
        "{item}外壳鼓起来了，还有烧焦的味道。",
        "疑似电池鼓包，存在起火风险，已提醒顾客立即停止使用。",
    ),
]

# Damage the warranty does not cover: the customer asks for a paid repair.
PAID_REPAIR_TEXTS = [
    (
        "{item}不小心摔了一下，屏幕不亮了，能修吗？多少钱？",
        "人为摔落导致损坏，不在免费保修范围，需按配件价目表报价。",
    ),
    (
        "{item}进水了开不了机，可以付费维修吗？",
        "人为进水，不属于保修范围，可付费维修。",
    ),
]

# Money complaints with no order: all the customer has is the payment app's trade number.
NO_ORDER_TEXTS: dict[str, list[tuple[str, str, str]]] = {
    R.FUNDS_NOT_RECEIVED: [
        (
            "我付了钱订单却没生成，钱也没退回来！交易号{reference}。",
            "顾客提供{payer}交易号，系统内未找到对应订单，疑似掉单，需财务核对支付流水。",
            "要么发货要么退钱",
        ),
        (
            "上周申请的退款到现在还没到账，交易号是{reference}。",
            "顾客称退款未到账，需按{payer}交易号核对退款流水。",
            "马上退钱，还要赔利息",
        ),
    ],
    R.UNEXPECTED_CHARGE: [
        (
            "我信用卡上多了一笔你们店的扣款，我根本没买东西。交易号{reference}。",
            "顾客提供{payer}交易号，疑似重复扣款，需核对支付流水。",
            "把多扣的钱退回来",
        ),
    ],
}

EXPECTATIONS = {
    CT.REFUND_ONLY: ["全额退款", "尽快退款", "退款"],
    CT.RETURN_REFUND: ["退货退款", "退货退款，运费你们承担", "尽快退款"],
    CT.EXCHANGE: ["换一个新的", "换新，尽快发出", "换成我下单的那款"],
    CT.REPAIR: ["免费维修", "尽快修好寄回来", "保修期内免费修好"],
    CT.REISSUE: ["把缺的补寄过来", "重新补发一份", "补发，最好发顺丰"],
}
PAID_REPAIR_EXPECTATION = "报个价，价格合适就修"

CALM = {Emotion.CALM: 6, Emotion.ANXIOUS: 2, Emotion.ANGRY: 1}
UPSET = {Emotion.CALM: 1, Emotion.ANXIOUS: 3, Emotion.ANGRY: 3, Emotion.FURIOUS: 2}
USUAL = {Emotion.CALM: 3, Emotion.ANXIOUS: 3, Emotion.ANGRY: 2, Emotion.FURIOUS: 1}
EMOTIONS = {
    R.NO_REASON: CALM,
    R.USAGE_QUESTION: CALM,
    R.POLICY_QUESTION: CALM,
    R.OTHER: CALM,
    R.FUNDS_NOT_RECEIVED: UPSET,
    R.UNEXPECTED_CHARGE: UPSET,
    R.SERVICE_ATTITUDE: UPSET,
    R.LATE_SHIPMENT: UPSET,
    R.LOST_IN_TRANSIT: UPSET,
    R.NOT_DELIVERED: UPSET,
}


def words_for(
    rng: random.Random,
    *,
    case_type: str,
    reason: str,
    item: str,
    courier: str,
    payer: str = "",
    reference: str = "",
    perishable: bool = False,
    safety: bool = False,
    paid_repair: bool = False,
    unshipped: bool = False,
) -> Words:
    """The customer's words, the facts and the expectation for a case, in Chinese."""
    expectation = rng.choice(EXPECTATIONS.get(case_type, [""]))
    if reference:
        said, facts, expectation = rng.choice(NO_ORDER_TEXTS[reason])
    elif safety:
        said, facts = rng.choice(SAFETY_TEXTS)
    elif paid_repair:
        said, facts = rng.choice(PAID_REPAIR_TEXTS)
        expectation = PAID_REPAIR_EXPECTATION
    elif unshipped and reason in UNSHIPPED_TEXTS:
        said, facts = rng.choice(UNSHIPPED_TEXTS[reason])
    elif perishable and reason in (R.QUALITY_DEFECT, R.DAMAGED_IN_TRANSIT, R.NOT_AS_DESCRIBED):
        said, facts = rng.choice(FRESH_TEXTS)
    else:
        said, facts, complaint_expectation = rng.choice(REASON_TEXTS[reason])
        if case_type == CT.COMPLAINT:
            expectation = complaint_expectation
    emotions = UPSET if safety else EMOTIONS.get(reason, USUAL)
    emotion = rng.choices(list(emotions), weights=list(emotions.values()))[0]
    values = {"item": item, "courier": courier or "快递", "payer": payer, "reference": reference}
    return Words(
        customer_words=said.format(**values),
        emotion=emotion,
        facts=facts.format(**values),
        expectation=expectation,
    )


# --------------------------------------------------------------------------- partner disputes


@dataclass(frozen=True)
class PartnerText:
    partner: str
    dispute_class: str
    dispute_nature: str
    words: str
    facts: str
    expectation: str


PARTNER_TEXTS = [
    PartnerText(
        "成都分销商 王建平",
        "after_sales",
        "benign",
        "我这边客户退回来的货，总部一直不给换，已经压了二十多件了。",
        "代理商名下有一批退货未处理，需核对退货单并安排换新。",
        "总部统一处理退换货并返还货款",
    ),
    PartnerText(
        "杭州代理 陈丽华",
        "profit_share",
        "benign",
        "上个月的分佣少算了，我推广的订单有一半没计入。",
        "分佣对账差异，疑似推广链接未正确绑定。",
        "补发差额佣金",
    ),
    PartnerText(
        "广州分销商 黄志强",
        "after_sales",
        "malignant",
        "你们总部绕过我直接给我的客户低价发货，这是抢客户！",
        "代理商称总部跨区低价销售，涉及区域保护条款。",
        "停止跨区销售并赔偿损失",
    ),
    PartnerText(
        "深圳代理 周海",
        "profit_share",
        "malignant",
        "我激活了三百多个会员，一分返佣都没拿到，你们就是骗子。",
        "该代理账户大量激活但几乎无交易，存在刷单嫌疑，风控已冻结返佣。",
        "立即发放全部返佣",
    ),
    PartnerText(
        "郑州城市合伙人 刘洋",
        "payment_terms",
        "benign",
        "说好月结30天，这都60天了货款还没结。",
        "账期已超期30天，付款流程卡在财务审批。",
        "一周内结清货款",
    ),
    PartnerText(
        "武汉分销商 邓伟",
        "payment_terms",
        "malignant",
        "再不结款我就在群里发你们拖欠货款的截图，让所有代理都知道。",
        "代理商以公开曝光相威胁，涉及货款约三万元，对账存在争议。",
        "三天内全额结清",
    ),
]

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Inspection:
    grade: str
    disposition: str
    note: str
    reject_note: str = ""


INSPECTIONS = {
    R.NO_REASON: Inspection(Grade.RESELLABLE, Disposition.RESTOCK, "包装完好，配件齐全，已入库。"),
    R.WRONG_ITEM: Inspection(Grade.RESELLABLE, Disposition.RESTOCK, "错发商品完好，已入库。"),
    R.NOT_AS_DESCRIBED: Inspection(Grade.RESELLABLE, Disposition.RESTOCK, "商品完好，已入库。"),
    R.QUALITY_DEFECT: Inspection(
        Grade.REFURBISH, Disposition.RETURN_TO_SUPPLIER, "检测确认故障，退回供应商索赔。"
    ),
    R.DAMAGED_IN_TRANSIT: Inspection(
        Grade.SCRAP, Disposition.SCRAP, "外壳破裂严重，无维修价值，报废并向快递索赔。"
    ),
}
REJECTED_INSPECTIONS = {
    CT.REPAIR: Inspection(
        Grade.REFURBISH,
        Disposition.REFURBISH,
        "主板有明显进水腐蚀痕迹。",
        "经检测为人为进水损坏，不在免费保修范围内，可另行报价付费维修。",
    ),
    "default": Inspection(
        Grade.REFURBISH,
        Disposition.REFURBISH,
        "商品有明显使用痕迹和划痕，原包装缺失。",
        "退回商品已使用且有明显划痕，影响二次销售，不符合退货条件，商品将寄回。",
    ),
}


PARTIAL_INSPECTION = Inspection(
    Grade.REFURBISH, Disposition.REFURBISH, "退回商品缺少原装配件，外包装有破损。"
)


def inspection_for(case_type: str, reason: str, rejected: bool, partial: bool) -> Inspection:
    if partial:  # the part-refund the agent then agrees is for what the warehouse found
        return PARTIAL_INSPECTION
    if rejected:
        return REJECTED_INSPECTIONS.get(case_type, REJECTED_INSPECTIONS["default"])
    if case_type == CT.REPAIR:
        return Inspection(Grade.REFURBISH, Disposition.REFURBISH, "故障与描述一致，安排维修。")
    return INSPECTIONS.get(
        reason, Inspection(Grade.REFURBISH, Disposition.REFURBISH, "已检测，送翻新。")
    )


QUESTIONS = {
    CT.REISSUE: ["请问具体缺少哪个配件？麻烦拍一下包装内物品和外箱面单的照片。"],
    CT.COMPLAINT: [
        "麻烦提供一下支付截图，我们核对一下流水。",
        "请问方便留一个联系电话吗？我们主管给您回电。",
    ],
    CT.PARTNER_DISPUTE: ["请提供近三个月的对账单和相关订单号，我们安排财务核对。"],
    "default": [
        "麻烦提供一下问题部位的照片和外包装照片，方便我们核实。",
        "请上传开箱视频或问题视频，我们尽快为您处理。",
    ],
}
QUESTION_AT_INSPECTION = "仓库收到的商品缺少原装配件，请问是否漏寄？方便的话补寄一下。"
QUESTION_FACTORY = "主板需返厂检测，周期约7–10个工作日，是否同意返厂？"
ANSWERS = {
    CT.REISSUE: ["缺的是充电线，照片已上传。"],
    CT.COMPLAINT: ["截图已上传，请查收。", "白天都方便接电话。"],
    CT.PARTNER_DISPUTE: ["对账单和订单号已发到对接群里。"],
    "default": ["照片已上传，请查收。", "视频发你们了，麻烦尽快处理。"],
}
ANSWER_AT_INSPECTION = "配件找到了，明天寄回。"
ANSWER_FACTORY = "同意返厂，尽快修好就行。"


def question_for(rng: random.Random, case_type: str, status: str) -> str:
    if status == CaseStatus.INSPECTING:
        return QUESTION_AT_INSPECTION
    if status == CaseStatus.PROCESSING and case_type == CT.REPAIR:
        return QUESTION_FACTORY
    return rng.choice(QUESTIONS.get(case_type, QUESTIONS["default"]))


def answer_for(rng: random.Random, case_type: str, resume_status: str) -> str:
    if resume_status == CaseStatus.INSPECTING:
        return ANSWER_AT_INSPECTION
    if resume_status == CaseStatus.PROCESSING and case_type == CT.REPAIR:
        return ANSWER_FACTORY
    return rng.choice(ANSWERS.get(case_type, ANSWERS["default"]))


QUOTE = "经检测需更换{part}，配件费{price}元，人工费{labour}元，共{total}元。确认维修请回复。"
QUOTE_ACCEPTED = "可以，按这个价格修吧。"
QUOTE_DECLINED = "太贵了，不修了，麻烦原样寄回。"

APPROVE_NOTES = ["", "同意售后申请。", "核实无误，同意。"]
AUTO_APPROVE = "订单未发货，按售后政策自动同意退款。"
SIGN_OFF = "金额核实无误，批准。"
REFUND_NOTES = ["", "验货无误，同意退款。"]
PARTIAL_REFUND = "商品缺少配件，与顾客协商后按七折退款。"
STORE_CREDIT = "顾客选择退至店铺余额。"
PROCESS_NOTES = {
    CT.EXCHANGE: "仓库已备货，准备换新发出。",
    CT.REPAIR: "已送维修中心检测维修。",
}
REFUND_ARRIVED = "财务确认退款已到账。"
DELIVERED = "物流显示顾客已签收。"
COMPENSATED = ["已发放20元无门槛优惠券作为补偿，顾客接受。", "补偿10元红包，顾客表示满意。"]
PARTNER_SETTLED = ["已与代理商对账，差额随下月结算返还。", "已按合同补付差额，代理商确认。"]
EXPLAINED = ["已电话向顾客说明情况，顾客表示理解。", "已详细解释相关规则，顾客认可。"]
# Why a case was refused: by type where the type decides, else by reason.
REJECT_NOTES_BY_TYPE = {
    CT.REPAIR: ["已超出保修期且顾客不接受付费维修。"],
    CT.COMPLAINT: [
        "经核实，活动与商品页面均已明确说明，顾客诉求不合理。",
        "顾客要求的赔偿金额远超平台规则，不予支持。",
    ],
    CT.PARTNER_DISPUTE: ["经核对合同条款，分佣与结算无误，不予调整。"],
}
REJECT_NOTES_BY_TYPE_AND_REASON = {
    (CT.REFUND_ONLY, R.NO_REASON): ["订单已打包出库无法拦截，请签收后申请退货退款。"],
    (CT.REFUND_ONLY, R.OTHER): ["订单已打包出库无法拦截，请签收后申请退货退款。"],
    (CT.REFUND_ONLY, R.QUALITY_DEFECT): ["顾客未能提供问题照片，不支持仅退款，可申请退货退款。"],
}
REJECT_NOTES_BY_REASON = {
    R.NO_REASON: ["顾客发来的实拍图显示商品已使用，影响二次销售，不符合七天无理由退货条件。"],
    R.QUALITY_DEFECT: ["顾客描述的现象属正常使用情况，不属于质量问题。"],
    R.DAMAGED_IN_TRANSIT: ["签收时未反馈破损，外箱照片未见挤压痕迹，无法认定为运输损坏。"],
    R.WRONG_ITEM: ["已核对出库视频，发出商品与订单一致。"],
    R.MISSING_ITEM: ["已核对出库称重记录与快递揽收重量一致，包裹内容完整。"],
    R.NOT_AS_DESCRIBED: ["详情页已注明相关参数的测试条件，不属于描述不符。"],
    R.NOT_DELIVERED: ["物流显示包裹已正常派送，快递员有签收凭证。"],
    R.LOST_IN_TRANSIT: ["快递已找回包裹并恢复派送，请耐心等待。"],
}
REJECT_NOTE_DEFAULT = "经核实不符合售后条件。"


def reject_note(rng: random.Random, case_type: str, reason: str) -> str:
    notes = (
        REJECT_NOTES_BY_TYPE.get(case_type)
        or REJECT_NOTES_BY_TYPE_AND_REASON.get((case_type, reason))
        or REJECT_NOTES_BY_REASON.get(reason)
        or [REJECT_NOTE_DEFAULT]
    )
    return rng.choice(notes)


APPEALS = [
    "我不认可这个结果，要求重新处理！",
    "你们说的不是事实，我要申诉。",
    "要求主管重新核实，不然我就找平台。",
]
APPEAL_TAKEN = "顾客申诉，组长接手复核。"
ESCALATE_NOTES = ["顾客情绪激动，要求主管处理。", "金额较大，转组长跟进。"]
ESCALATED_12315 = "顾客已拨打12315投诉，请组长尽快跟进。"
ESCALATED_PLATFORM = "顾客已申请平台介入，需在规定时间内上传凭证。"
CANCELS = ["问题已自行解决，撤销申请。", "不退了，东西还能用。", "和家人商量后决定留下。"]
EXPIRED = "顾客超过7天未寄回商品，售后关闭。"
INTERNAL_NOTES = [
    "已电话联系顾客，未接通，稍后再拨。",
    "顾客情绪较激动，已安抚。",
    "已核对出库称重记录。",
    "已联系快递网点核实物流。",
    "已提醒仓库优先处理。",
]
CUSTOMER_NOTES = [
    "请尽快处理，谢谢。",
    "怎么还没有人回复？",
    "好的，我等消息。",
    "已经等了两天了，能快点吗？",
]
