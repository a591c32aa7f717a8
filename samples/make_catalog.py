"""Generate the demo catalog: products written in English, Chinese, Japanese,
German and Spanish, with brands, model numbers, categories, prices and
attributes. Deterministic (seeded), so ``samples/catalog.jsonl`` is reproducible:

    python samples/make_catalog.py > samples/catalog.jsonl
"""

from __future__ import annotations

import json
import random
import sys

LANGS = ("en", "zh", "ja", "de", "es")
CURRENCY = {"en": "USD", "zh": "CNY", "ja": "JPY", "de": "EUR", "es": "EUR"}
PRICE_FACTOR = {"USD": 1.0, "CNY": 7.1, "JPY": 150.0, "EUR": 0.92}

COLORS = {
    "black": {"en": "black", "zh": "黑色", "ja": "ブラック", "de": "schwarz", "es": "negro"},
    "white": {"en": "white", "zh": "白色", "ja": "ホワイト", "de": "weiß", "es": "blanco"},
    "red": {"en": "red", "zh": "红色", "ja": "赤", "de": "rot", "es": "rojo"},
    "blue": {"en": "blue", "zh": "蓝色", "ja": "青", "de": "blau", "es": "azul"},
    "green": {"en": "green", "zh": "绿色", "ja": "緑", "de": "grün", "es": "verde"},
    "pink": {"en": "pink", "zh": "粉色", "ja": "ピンク", "de": "rosa", "es": "rosa"},
}

# kind: (category path per language, noun per language, brands, price range USD, extras)
KINDS = {
    "smartphone": (
        {"en": "Electronics > Phones", "zh": "电子产品 > 手机", "ja": "家電 > スマートフォン",
         "de": "Elektronik > Handys", "es": "Electrónica > Móviles"},
        {"en": "smartphone", "zh": "智能手机", "ja": "スマートフォン", "de": "Smartphone", "es": "teléfono móvil"},
        [("Apple", ["iPhone 12", "iPhone 13", "iPhone 14 Pro"]), ("Samsung", ["Galaxy S21", "Galaxy S23 Ultra", "Galaxy A54"]),
         ("Xiaomi", ["Redmi Note 12", "Xiaomi 13T"]), ("Google", ["Pixel 7", "Pixel 8a"])],
        (199, 1199), {"storage": ["128GB", "256GB", "512GB"]},
    ),
    "phone_case": (
        {"en": "Electronics > Phone Accessories > Cases", "zh": "电子产品 > 手机配件 > 手机壳",
         "ja": "家電 > スマホアクセサリー > ケース", "de": "Elektronik > Handyzubehör > Hüllen",
         "es": "Electrónica > Accesorios de móvil > Fundas"},
        {"en": "phone case", "zh": "手机壳", "ja": "ケース", "de": "Handyhülle", "es": "funda para móvil"},
        [("Spigen", ["iPhone 12", "iPhone 13", "Galaxy S21"]), ("OtterBox", ["iPhone 14 Pro", "Pixel 7"]),
         ("ESR", ["iPhone 12", "Galaxy S23 Ultra"])],
        (9, 49), {"material": ["silicone", "TPU", "leather"]},
    ),
    "earbuds": (
        {"en": "Electronics > Audio > Headphones", "zh": "电子产品 > 音频 > 耳机", "ja": "家電 > オーディオ > イヤホン",
         "de": "Elektronik > Audio > Kopfhörer", "es": "Electrónica > Audio > Auriculares"},
        {"en": "wireless earbuds", "zh": "无线蓝牙耳机", "ja": "ワイヤレスイヤホン", "de": "kabellose Ohrhörer",
         "es": "auriculares inalámbricos"},
        [("Sony", ["WF-1000XM4", "WF-C700N"]), ("Apple", ["AirPods Pro 2"]), ("Anker", ["Soundcore Liberty 4"]),
         ("JBL", ["Tune 230NC"])],
        (39, 279), {"battery": ["24h", "30h", "36h"]},
    ),
    "headphones": (
        {"en": "Electronics > Audio > Headphones", "zh": "电子产品 > 音频 > 耳机", "ja": "家電 > オーディオ > ヘッドホン",
         "de": "Elektronik > Audio > Kopfhörer", "es": "Electrónica > Audio > Auriculares"},
        {"en": "noise cancelling headphones", "zh": "降噪头戴式耳机", "ja": "ノイズキャンセリングヘッドホン",
         "de": "Kopfhörer mit Geräuschunterdrückung", "es": "auriculares con cancelación de ruido"},
        [("Sony", ["WH-1000XM5", "WH-1000XM4"]), ("Bose", ["QuietComfort 45"]), ("Sennheiser", ["Momentum 4"])],
        (149, 399), {"battery": ["30h", "60h"]},
    ),
    "charger": (
        {"en": "Electronics > Phone Accessories > Chargers", "zh": "电子产品 > 手机配件 > 充电器",
         "ja": "家電 > スマホアクセサリー > 充電器", "de": "Elektronik > Handyzubehör > Ladegeräte",
         "es": "Electrónica > Accesorios de móvil > Cargadores"},
        {"en": "USB-C fast charger", "zh": "USB-C 快充充电器", "ja": "USB-C 急速充電器", "de": "USB-C Schnellladegerät",
         "es": "cargador rápido USB-C"},
        [("Anker", ["Nano 3", "PowerPort III"]), ("Ugreen", ["Nexode"]), ("Belkin", ["BoostCharge"])],
        (15, 59), {"power": ["20W", "30W", "55W", "65W"]},
    ),
    "laptop": (
        {"en": "Computers > Laptops", "zh": "电脑 > 笔记本电脑", "ja": "パソコン > ノートパソコン",
         "de": "Computer > Laptops", "es": "Informática > Portátiles"},
        {"en": "laptop", "zh": "笔记本电脑", "ja": "ノートパソコン", "de": "Laptop", "es": "portátil"},
        [("Lenovo", ["ThinkPad X1 Carbon", "IdeaPad 5"]), ("Apple", ["MacBook Air M2"]), ("Dell", ["XPS 13"]),
         ("ASUS", ["ZenBook 14"])],
        (599, 1899), {"ram": ["8GB", "16GB", "32GB"]},
    ),
    "dress": (
        {"en": "Clothing > Women > Dresses", "zh": "服装 > 女装 > 连衣裙", "ja": "ファッション > レディース > ワンピース",
         "de": "Bekleidung > Damen > Kleider", "es": "Ropa > Mujer > Vestidos"},
        {"en": "summer dress", "zh": "夏季连衣裙", "ja": "夏ワンピース", "de": "Sommerkleid", "es": "vestido de verano"},
        [("Zara", [""]), ("H&M", [""]), ("Mango", [""]), ("Uniqlo", [""])],
        (19, 89), {"size": ["S", "M", "L"], "fabric": ["cotton", "linen", "silk"]},
    ),
    "jeans": (
        {"en": "Clothing > Men > Jeans", "zh": "服装 > 男装 > 牛仔裤", "ja": "ファッション > メンズ > ジーンズ",
         "de": "Bekleidung > Herren > Jeans", "es": "Ropa > Hombre > Vaqueros"},
        {"en": "slim fit jeans", "zh": "修身牛仔裤", "ja": "スリムジーンズ", "de": "Slim-Fit-Jeans",
         "es": "vaqueros ajustados"},
        [("Levi's", ["511", "501"]), ("Wrangler", ["Texas"]), ("Lee", ["Rider"])],
        (39, 119), {"size": ["30/32", "32/32", "34/34"]},
    ),
    "running_shoes": (
        {"en": "Shoes > Sports > Running", "zh": "鞋 > 运动鞋 > 跑步鞋", "ja": "シューズ > スポーツ > ランニング",
         "de": "Schuhe > Sport > Laufschuhe", "es": "Calzado > Deporte > Running"},
        {"en": "running shoes", "zh": "跑步鞋", "ja": "ランニングシューズ", "de": "Laufschuhe", "es": "zapatillas de running"},
        [("Nike", ["Pegasus 40", "Air Zoom"]), ("Adidas", ["Ultraboost 22"]), ("ASICS", ["Gel-Kayano 30"]),
         ("New Balance", ["1080v13"])],
        (79, 189), {"size": ["38", "40", "42", "44"]},
    ),
    "backpack": (
        {"en": "Bags > Backpacks", "zh": "箱包 > 双肩包", "ja": "バッグ > リュック", "de": "Taschen > Rucksäcke",
         "es": "Bolsos > Mochilas"},
        {"en": "laptop backpack", "zh": "电脑双肩包", "ja": "パソコンリュック", "de": "Laptop-Rucksack",
         "es": "mochila para portátil"},
        [("Samsonite", ["Guardit 2.0"]), ("The North Face", ["Borealis"]), ("Xiaomi", ["Commuter"])],
        (29, 149), {"volume": ["20L", "28L", "35L"]},
    ),
    "watch": (
        {"en": "Electronics > Wearables > Smartwatches", "zh": "电子产品 > 智能穿戴 > 智能手表",
         "ja": "家電 > ウェアラブル > スマートウォッチ", "de": "Elektronik > Wearables > Smartwatches",
         "es": "Electrónica > Wearables > Relojes inteligentes"},
        {"en": "smartwatch", "zh": "智能手表", "ja": "スマートウォッチ", "de": "Smartwatch", "es": "reloj inteligente"},
        [("Apple", ["Watch Series 9"]), ("Garmin", ["Forerunner 265"]), ("Huawei", ["Watch GT 4"]),
         ("Samsung", ["Galaxy Watch6"])],
        (149, 499), {"case": ["41mm", "45mm"]},
    ),
    "kettle": (
        {"en": "Home > Kitchen > Kettles", "zh": "家居 > 厨房电器 > 电热水壶", "ja": "ホーム > キッチン家電 > 電気ケトル",
         "de": "Haushalt > Küche > Wasserkocher", "es": "Hogar > Cocina > Hervidores"},
        {"en": "electric kettle", "zh": "电热水壶", "ja": "電気ケトル", "de": "Wasserkocher", "es": "hervidor eléctrico"},
        [("Philips", ["HD9350"]), ("Bosch", ["TWK7203"]), ("Xiaomi", ["Mi Kettle"])],
        (25, 89), {"capacity": ["1.5L", "1.7L"]},
    ),
    "coffee_maker": (
        {"en": "Home > Kitchen > Coffee Machines", "zh": "家居 > 厨房电器 > 咖啡机", "ja": "ホーム > キッチン家電 > コーヒーメーカー",
         "de": "Haushalt > Küche > Kaffeemaschinen", "es": "Hogar > Cocina > Cafeteras"},
        {"en": "espresso machine", "zh": "意式咖啡机", "ja": "エスプレッソマシン", "de": "Espressomaschine",
         "es": "cafetera espresso"},
        [("De'Longhi", ["Dedica EC685", "Magnifica S"]), ("Philips", ["EP2220"]), ("Nespresso", ["Vertuo Next"])],
        (99, 699), {"pressure": ["15 bar", "19 bar"]},
    ),
    "washing_machine": (
        {"en": "Home > Appliances > Washing Machines", "zh": "家居 > 大家电 > 洗衣机", "ja": "ホーム > 生活家電 > 洗濯機",
         "de": "Haushalt > Großgeräte > Waschmaschinen", "es": "Hogar > Electrodomésticos > Lavadoras"},
        {"en": "washing machine", "zh": "滚筒洗衣机", "ja": "ドラム式洗濯機", "de": "Waschmaschine", "es": "lavadora"},
        [("Bosch", ["Serie 6 WAU28T"]), ("Samsung", ["WW90T"]), ("LG", ["F4V5"]), ("Haier", ["HW80"])],
        (349, 899), {"capacity": ["8 kg", "9 kg", "10 kg"]},
    ),
    "vacuum": (
        {"en": "Home > Appliances > Vacuum Cleaners", "zh": "家居 > 生活电器 > 吸尘器", "ja": "ホーム > 生活家電 > 掃除機",
         "de": "Haushalt > Haushaltsgeräte > Staubsauger", "es": "Hogar > Electrodomésticos > Aspiradoras"},
        {"en": "cordless vacuum cleaner", "zh": "无线吸尘器", "ja": "コードレス掃除機", "de": "kabelloser Staubsauger",
         "es": "aspiradora sin cable"},
        [("Dyson", ["V15 Detect", "V8"]), ("Xiaomi", ["G10"]), ("Philips", ["SpeedPro Max"])],
        (149, 749), {"runtime": ["40 min", "60 min"]},
    ),
    "toy": (
        {"en": "Toys > Building Sets", "zh": "玩具 > 积木", "ja": "おもちゃ > ブロック", "de": "Spielzeug > Bausets",
         "es": "Juguetes > Construcción"},
        {"en": "building block set", "zh": "积木套装", "ja": "ブロックセット", "de": "Bauset", "es": "set de construcción"},
        [("LEGO", ["Technic 42141", "City 60337", "Creator 31120"])],
        (19, 199), {"pieces": ["500", "1000", "2500"]},
    ),
}

DESCRIPTIONS = {
    "en": "The {brand} {model} {noun} in {color}. {extra}. Free shipping and a 2-year warranty.",
    "zh": "{brand} {model} {color}{noun}，{extra}。全国包邮，两年质保。",
    "ja": "{brand} {model} {noun}（{color}）。{extra}。送料無料、2年保証。",
    "de": "{brand} {model} {noun} in {color}. {extra}. Kostenloser Versand und 2 Jahre Garantie.",
    "es": "{noun} {brand} {model} en color {color}. {extra}. Envío gratis y 2 años de garantía.",
}
EXTRA = {
    "en": {"storage": "{v} storage", "material": "{v} material", "battery": "up to {v} battery life",
           "power": "{v} output", "ram": "{v} RAM", "size": "size {v}", "fabric": "made of {v}",
           "volume": "{v} capacity", "case": "{v} case", "capacity": "{v} capacity",
           "pressure": "{v} pump pressure", "runtime": "{v} runtime", "pieces": "{v} pieces"},
    "zh": {"storage": "{v}存储", "material": "{v}材质", "battery": "续航{v}", "power": "{v}输出", "ram": "{v}内存",
           "size": "尺码{v}", "fabric": "{v}面料", "volume": "容量{v}", "case": "{v}表盘", "capacity": "容量{v}",
           "pressure": "{v}泵压", "runtime": "续航{v}", "pieces": "{v}块积木"},
    "ja": {"storage": "ストレージ{v}", "material": "{v}素材", "battery": "最大{v}再生", "power": "出力{v}",
           "ram": "メモリ{v}", "size": "サイズ{v}", "fabric": "素材: {v}", "volume": "容量{v}", "case": "{v}ケース",
           "capacity": "容量{v}", "pressure": "{v}ポンプ", "runtime": "{v}連続運転", "pieces": "{v}ピース"},
    "de": {"storage": "{v} Speicher", "material": "Material: {v}", "battery": "bis zu {v} Akkulaufzeit",
           "power": "{v} Leistung", "ram": "{v} Arbeitsspeicher", "size": "Größe {v}", "fabric": "aus {v}",
           "volume": "{v} Volumen", "case": "{v} Gehäuse", "capacity": "{v} Fassungsvermögen",
           "pressure": "{v} Pumpendruck", "runtime": "{v} Laufzeit", "pieces": "{v} Teile"},
    "es": {"storage": "{v} de almacenamiento", "material": "material {v}", "battery": "hasta {v} de batería",
           "power": "potencia {v}", "ram": "{v} de RAM", "size": "talla {v}", "fabric": "de {v}",
           "volume": "capacidad de {v}", "case": "caja de {v}", "capacity": "capacidad de {v}",
           "pressure": "presión de {v}", "runtime": "autonomía de {v}", "pieces": "{v} piezas"},
}
# Attribute values that are words, not codes, written in each language.
VALUE_WORDS = {
    "cotton": {"en": "cotton", "zh": "纯棉", "ja": "綿", "de": "Baumwolle", "es": "algodón"},
    "linen": {"en": "linen", "zh": "亚麻", "ja": "リネン", "de": "Leinen", "es": "lino"},
    "silk": {"en": "silk", "zh": "真丝", "ja": "シルク", "de": "Seide", "es": "seda"},
    "leather": {"en": "leather", "zh": "真皮", "ja": "レザー", "de": "Leder", "es": "cuero"},
    "silicone": {"en": "silicone", "zh": "硅胶", "ja": "シリコン", "de": "Silikon", "es": "silicona"},
}
AVAILABILITY = ["in_stock"] * 6 + ["out_of_stock", "preorder"]


def title(lang: str, brand: str, model: str, noun: str, color: str, spec: str) -> str:
    model = f" {model}" if model else ""
    if lang == "zh":
        return f"{brand}{model} {color}{noun} {spec}".strip()
    if lang == "ja":
        return f"{brand}{model} {noun} {color} {spec}".strip()
    if lang == "es":
        return f"{noun.capitalize()} {brand}{model} {color} {spec}".strip()
    return f"{brand}{model} {noun} {spec} {color}".strip() if lang == "de" else \
        f"{brand}{model} {noun} {spec}, {color}".strip()


def generate(per_lang: int = 64, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    kinds = list(KINDS)
    products = []
    for lang in LANGS:
        for n in range(per_lang):
            kind = kinds[(n + LANGS.index(lang) * 3) % len(kinds)]
            cats, nouns, brands, (lo, hi), extras = KINDS[kind]
            brand, models = brands[rng.randrange(len(brands))]
            model = rng.choice(models)
            color_key = rng.choice(list(COLORS))
            attr_key = rng.choice(list(extras))
            attr_value = rng.choice(extras[attr_key])
            color = COLORS[color_key][lang]
            shown_value = VALUE_WORDS.get(attr_value, {}).get(lang, attr_value)
            usd = round(rng.uniform(lo, hi), 2)
            currency = CURRENCY[lang]
            price = round(usd * PRICE_FACTOR[currency], 0 if currency == "JPY" else 2)
            extra = EXTRA[lang][attr_key].format(v=shown_value)
            products.append({
                "id": f"{lang}-{kind}-{n:03d}",
                "title": title(lang, brand, model, nouns[lang], color, shown_value),
                "description": DESCRIPTIONS[lang].format(brand=brand, model=model, noun=nouns[lang], color=color,
                                                         extra=extra).replace("  ", " "),
                "brand": brand,
                "category": cats[lang],
                "attributes": {"color": color_key, attr_key: attr_value, "kind": kind},
                "price": price,
                "currency": currency,
                "availability": rng.choice(AVAILABILITY),
                "language": lang,
                "url": f"https://shop.example/{lang}/{kind}/{n:03d}",
            })
    return products


if __name__ == "__main__":
    for product in generate():
        sys.stdout.write(json.dumps(product, ensure_ascii=False) + "\n")
