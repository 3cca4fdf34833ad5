"""Provinces of household registration (户籍地) and destination, by their GB/T 2260 codes,
and the prefectures of the provinces most workers come from."""

from __future__ import annotations

from handlers.actions import N_, Button, Inline, Msg, Raw

# The 31 mainland provincial-level divisions: a hukou is registered in one of them.
PROVINCES: dict[str, str] = {
    "11": N_("province.11"),
    "12": N_("province.12"),
    "13": N_("province.13"),
    "14": N_("province.14"),
    "15": N_("province.15"),
    "21": N_("province.21"),
    "22": N_("province.22"),
    "23": N_("province.23"),
    "31": N_("province.31"),
    "32": N_("province.32"),
    "33": N_("province.33"),
    "34": N_("province.34"),
    "35": N_("province.35"),
    "36": N_("province.36"),
    "37": N_("province.37"),
    "41": N_("province.41"),
    "42": N_("province.42"),
    "43": N_("province.43"),
    "44": N_("province.44"),
    "45": N_("province.45"),
    "46": N_("province.46"),
    "50": N_("province.50"),
    "51": N_("province.51"),
    "52": N_("province.52"),
    "53": N_("province.53"),
    "54": N_("province.54"),
    "61": N_("province.61"),
    "62": N_("province.62"),
    "63": N_("province.63"),
    "64": N_("province.64"),
    "65": N_("province.65"),
}


def province_name(code: str | None) -> Msg:
    """The province's name as a message (unknown codes read as "not given")."""
    key = PROVINCES.get(code or "")
    return Msg(key) if key else Msg("common.not_given")


def province_keyboard(per_row: int = 3) -> Inline:
    """Every province as a button whose value is its code."""
    buttons = [Button(Msg(key), code) for code, key in PROVINCES.items()]
    return Inline.of([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def _cities(names: str) -> tuple[str, ...]:
    """Prefectures written as a space-separated list: 市 is added to each name, except to
    those marked "=" (autonomous prefectures and the like, kept as written)."""
    return tuple(n[1:] if n.startswith("=") else f"{n}市" for n in names.split())


# The prefecture-level divisions (地级行政区, with the county-level cities a province governs
# directly) of the provinces most migrant workers come from, in GB/T 2260 order. These are
# place names, kept as data: the city a worker picks is stored as written here, as if typed.
# A province not listed (or Chongqing's 38 districts and counties) is typed.
PREFECTURES: dict[str, tuple[str, ...]] = {
    "13": _cities("石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水"),
    "14": _cities("太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁"),
    "23": _cities(
        "哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化 =大兴安岭地区"
    ),
    "34": _cities(
        "合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 池州 宣城"
    ),
    "36": _cities("南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶"),
    "37": _cities(
        "济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州 菏泽"
    ),
    "41": _cities(
        "郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘 信阳 周口"
        " 驻马店 济源"
    ),
    "42": _cities(
        "武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 =恩施州 仙桃 潜江 天门"
        " =神农架林区"
    ),
    "43": _cities("长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底 =湘西州"),
    "45": _cities("南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左"),
    "51": _cities(
        "成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州 雅安"
        " 巴中 资阳 =阿坝州 =甘孜州 =凉山州"
    ),
    "52": _cities("贵阳 六盘水 遵义 安顺 毕节 铜仁 =黔西南州 =黔东南州 =黔南州"),
    "53": _cities(
        "昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 =楚雄州 =红河州 =文山州 =西双版纳州 =大理州"
        " =德宏州 =怒江州 =迪庆州"
    ),
    "61": _cities("西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛"),
    "62": _cities("兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 =临夏州 =甘南州"),
}
PREFECTURE_PREFIX = "c:"


def prefecture_keyboard(province: str | None, per_row: int = 4) -> Inline | None:
    """The province's prefectures as buttons ("c:<index>"), or None when it has no list."""
    names = PREFECTURES.get(province or "")
    if not names:
        return None
    buttons = [Button(Raw(n), f"{PREFECTURE_PREFIX}{i}") for i, n in enumerate(names)]
    return Inline.of([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def prefecture_of(province: str | None, value: str) -> str | None:
    """The prefecture a button of `prefecture_keyboard` stands for (None if it is not one)."""
    names = PREFECTURES.get(province or "", ())
    index = value.removeprefix(PREFECTURE_PREFIX)
    if not value.startswith(PREFECTURE_PREFIX) or not index.isdigit() or int(index) >= len(names):
        return None
    return names[int(index)]
