"""The demo shop: accounts and a bilingual home & lifestyle catalogue, the same on every run.

Everything comes from ``random.Random(2026)``: titles are built from French and English name
parts that agree in gender and number, descriptions from sentences written for each family and
material, pictures are drawn with Pillow (nothing is downloaded). Categories, tags, products,
variants, later prices and pictures go through the catalogue services the back office uses
(the same checks, price history and addresses), dated as the plan says, and opening stock
through the stock ledger; all in one transaction. Each product has its own overall picture
(its family's silhouette with its own proportions, colours, angle and setting); the close-up
of a material and the room of a top category are drawn once and shared.
"""

from __future__ import annotations

import colorsys
import io
import math
import random
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFilter
from sqlalchemy import insert

from shop.accounts import services as accounts
from shop.accounts.models import Role
from shop.catalogue import images, taxonomy
from shop.catalogue import services as catalogue
from shop.catalogue.models import Product, ProductImage, ProductKind, ProductStatus
from shop.catalogue.text import slugify
from shop.checkout.defaults import load_defaults as load_checkout_defaults
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, InventoryMovement, MovementKind
from shop.invoices.services import load_demo_identity
from shop.platform.bank import load_demo_bank_details
from shop.platform.hero import load_demo_hero

DEMO_ACCOUNTS = (
    ("admin@demo.example.com", Role.ADMIN, "fr"),
    ("manager@demo.example.com", Role.MANAGER, "fr"),
    ("support@demo.example.com", Role.SUPPORT, "en"),
    ("client@demo.example.com", Role.CUSTOMER, "fr"),
    ("customer@demo.example.com", Role.CUSTOMER, "en"),
)
DEFAULT_PRODUCTS = 240
SEED = 2026
CHUNK = 2000
# Opening stock goes through ``inventory.receive`` one variant at a time up to this many
# variants; beyond it (benchmark catalogues) the same ledger rows are bulk-inserted.
STOCK_THROUGH_SERVICE_MAX = 2000
STOCK_REASON = "demo: opening stock"
PICTURE_SIZE = (1600, 1200)
# ("product", "family/material", seed): one product's overall view; ("material", material, 0): a
# close-up of a material; ("room", top category, 0): three of its families in a room.
PictureKey = tuple[str, str, int]


def load(*, password: str, products: int = DEFAULT_PRODUCTS) -> list[str]:
    """Demo accounts, tax rates and shipping methods, then the catalogue unless the shop
    already has products."""
    lines = []
    for email, role, locale in DEMO_ACCOUNTS:
        if accounts.find_by_email(email) is None:
            accounts.register(email, password, locale=locale, role=role)
            lines.append(f"{role:<8} {email} / {password}")
    lines.extend(load_checkout_defaults())
    lines.extend(load_demo_identity())
    lines.extend(load_demo_bank_details())
    lines.extend(load_demo_hero())
    if catalogue_is_empty():
        lines.extend(load_catalogue(products).lines())
    else:
        lines.append("catalogue already has products, left as it is")
    return lines


def catalogue_is_empty() -> bool:
    return db.session.execute(db.select(Product.id).limit(1)).first() is None


# -- vocabulary --------------------------------------------------------------------------


def fr_typography(text: str) -> str:
    """French spacing: no-break space before ':' and inside « », narrow one before ;!?%."""
    text = text.replace("'", "’")
    text = re.sub(r"«\s*", "«\u00a0", text)
    text = re.sub(r"\s*»", "\u00a0»", text)
    text = re.sub(r"\s+:", "\u00a0:", text)
    text = re.sub(r"\s+([;!?%])", "\u202f\\1", text)
    text = re.sub(r"(\d) × (\d)", "\\1\u00a0×\u00a0\\2", text)
    return re.sub(r"(\d) (?=(?:cm|g/m²|g|°C|heures|pages|Mo)(?:\W|$))", "\\1\u00a0", text)


@dataclass(frozen=True)
class Noun:
    fr: str
    en: str
    feminine: bool = False
    plural: bool = False

    @property
    def form(self) -> int:
        """Index into (masculine singular, feminine singular, masculine plural, feminine plural)."""
        return (2 if self.plural else 0) + (1 if self.feminine else 0)


@dataclass(frozen=True)
class Adjective:
    forms: tuple[str, str, str, str]  # ms, fs, mp, fp
    en: str

    def fr(self, noun: Noun) -> str:
        return self.forms[noun.form]


def adjective(ms: str, en: str, fs: str | None = None, mp: str | None = None) -> Adjective:
    fs = fs or (ms if ms.endswith("e") else ms + "e")
    mp = mp or (ms if ms.endswith(("s", "x")) else ms + "s")
    return Adjective((ms, fs, mp, fs + "s"), en)


def invariable(fr: str, en: str) -> Adjective:
    return Adjective((fr, fr, fr, fr), en)


ADJECTIVES = (
    adjective("élégant", "elegant"),
    adjective("rustique", "rustic"),
    adjective("minimaliste", "minimalist"),
    adjective("nordique", "Nordic"),
    invariable("vintage", "vintage"),
    adjective("artisanal", "handcrafted", mp="artisanaux"),
    adjective("intemporel", "timeless", fs="intemporelle"),
    adjective("graphique", "graphic"),
    adjective("naturel", "natural", fs="naturelle"),
    adjective("moderne", "modern"),
    adjective("classique", "classic"),
    adjective("raffiné", "refined"),
)
WORKSHOP_ADJECTIVES = (
    invariable("d'initiation", "beginners'"),
    invariable("de perfectionnement", "advanced"),
    invariable("en duo", "duo"),
    invariable("en famille", "family"),
    adjective("intensif", "intensive", fs="intensive"),
)


@dataclass(frozen=True)
class Material:
    fr: str  # after the noun: "en chêne"
    en: str  # before the noun: "oak"
    sentence_fr: str
    sentence_en: str
    flags: frozenset[str] = frozenset()


def material(fr: str, en: str, flags: str, sentence_fr: str, sentence_en: str) -> Material:
    """``flags`` (space-separated) drive the tags: wood, recycled, organic, linen, eco..."""
    return Material(fr, en, sentence_fr, sentence_en, frozenset(flags.split()))


# fmt: off
MATERIALS = {
    "chene": material("en chêne", "oak", "wood",
        "Le chêne massif vient de forêts françaises gérées durablement ; il est simplement "
        "huilé pour garder son veinage.",
        "The solid oak comes from sustainably managed French forests and is simply oiled to "
        "keep its grain.",
    ),
    "noyer": material("en noyer", "walnut", "wood",
        "Le noyer, au brun profond, se patine joliment avec les années.",
        "Walnut, with its deep brown tone, takes on a lovely patina over the years.",
    ),
    "frene": material("en frêne", "ash", "wood",
        "Le frêne, clair et nerveux, est à la fois souple et très résistant.",
        "Pale, lively ash is both supple and very hard-wearing.",
    ),
    "hetre": material("en hêtre", "beech", "wood",
        "Le hêtre, au grain fin et serré, est tourné puis poncé à la main.",
        "Fine, close-grained beech is turned and then sanded by hand.",
    ),
    "rotin": material("en rotin", "rattan", "handmade",
        "Le rotin est tressé à la main, brin après brin, sur une structure légère.",
        "The rattan is woven by hand, strand by strand, over a light frame.",
    ),
    "acier": material("en acier laqué", "powder-coated steel", "",
        "L'acier, plié puis laqué à l'époxy, résiste aux chocs comme à l'humidité.",
        "The steel is folded, then powder-coated to stand up to knocks and damp.",
    ),
    "marbre": material("en marbre", "marble", "",
        "Chaque plateau de marbre est unique : ses veines varient d'une pièce à l'autre.",
        "Every marble top is unique: the veining varies from one piece to the next.",
    ),
    "olivier": material("en olivier", "olive wood", "wood",
        "L'olivier, dense et naturellement veiné, provient de tailles d'entretien en Provence.",
        "Dense, naturally figured olive wood comes from routine pruning in Provence.",
    ),
    "acacia": material("en acacia", "acacia", "wood",
        "L'acacia, imputrescible, supporte très bien le contact de l'eau.",
        "Rot-resistant acacia copes very well with water.",
    ),
    "laiton": material("en laiton", "brass", "",
        "Le laiton brossé prend une patine dorée au fil du temps.",
        "Brushed brass develops a golden patina over time.",
    ),
    "ceramique": material("en céramique", "ceramic", "handmade",
        "La céramique est moulée puis émaillée dans un petit atelier de Vallauris.",
        "The ceramic is slip-cast and glazed in a small workshop in Vallauris.",
    ),
    "washi": material("en papier washi", "washi paper", "",
        "Le papier washi diffuse une lumière douce et chaleureuse.",
        "Washi paper diffuses a soft, warm light.",
    ),
    "gres": material("en grès", "stoneware", "handmade",
        "Le grès est tourné puis émaillé à la main : chaque pièce présente de légères "
        "variations.",
        "The stoneware is thrown and glazed by hand, so every piece varies slightly.",
    ),
    "porcelaine": material("en porcelaine", "porcelain", "",
        "La porcelaine de Limoges, fine et translucide, reste étonnamment solide.",
        "Fine, translucent Limoges porcelain remains surprisingly strong.",
    ),
    "faience": material("en faïence", "earthenware", "",
        "La faïence, émaillée en deux couches, offre des couleurs douces et profondes.",
        "Earthenware with two coats of glaze gives soft, deep colours.",
    ),
    "terre_cuite": material("en terre cuite", "terracotta", "hand_wash handmade",
        "La terre cuite, cuite à basse température, garde sa teinte chaude et naturelle.",
        "Low-fired terracotta keeps its warm, natural colour.",
    ),
    "verre_souffle": material("en verre soufflé", "blown glass", "handmade",
        "Le verre est soufflé à la bouche : de petites bulles témoignent du geste du verrier.",
        "The glass is mouth-blown: tiny bubbles show the glassblower's hand.",
    ),
    "verre_recycle": material("en verre recyclé", "recycled glass", "recycled",
        "Le verre recyclé, légèrement teinté, est issu de bouteilles collectées en France.",
        "The lightly tinted recycled glass is made from bottles collected in France.",
    ),
    "lin_lave": material("en lin lavé", "washed linen", "linen",
        "Le lin lavé, cultivé en Normandie, devient plus doux à chaque lavage.",
        "Washed linen, grown in Normandy, gets softer with every wash.",
    ),
    "coton_bio": material("en coton bio", "organic cotton", "organic",
        "Le coton biologique certifié GOTS est teint sans produits nocifs.",
        "GOTS-certified organic cotton is dyed without harmful chemicals.",
    ),
    "velours": material("en velours", "velvet", "",
        "Le velours de coton, dense et soyeux, capte joliment la lumière.",
        "Dense, silky cotton velvet catches the light beautifully.",
    ),
    "laine": material("en laine", "wool", "",
        "La laine mérinos, chaude et respirante, est filée dans le Tarn.",
        "Warm, breathable merino wool is spun in the Tarn.",
    ),
    "chanvre": material("en chanvre", "hemp", "eco",
        "Le chanvre, cultivé sans irrigation ni pesticides, est une fibre robuste et durable.",
        "Hemp, grown without irrigation or pesticides, is a strong and durable fibre.",
    ),
    "nid_abeille": material("en coton nid d'abeille", "waffle cotton", "",
        "Le tissage nid d'abeille sèche vite et reste léger.",
        "The waffle weave dries quickly and stays light.",
    ),
    "eponge": material("en éponge de coton", "cotton terry", "",
        "L'éponge de coton peigné, dense à 550 g/m², est douce et très absorbante.",
        "Combed cotton terry, a dense 550 gsm, is soft and very absorbent.",
    ),
    "papier_recycle": material("en papier recyclé", "recycled paper", "recycled",
        "Le papier 100 % recyclé est fabriqué dans les Vosges.",
        "The 100% recycled paper is made in the Vosges.",
    ),
    "papier_coton": material("en papier coton", "cotton paper", "",
        "Le papier coton, épais et mat, restitue les couleurs avec profondeur.",
        "Thick, matt cotton paper renders colours with depth.",
    ),
    "kraft": material("en papier kraft", "kraft paper", "eco",
        "Le papier kraft non blanchi garde sa teinte naturelle.",
        "Unbleached kraft paper keeps its natural shade.",
    ),
    "toile_lin": material("en toile de lin", "linen-bound", "",
        "La couverture en toile de lin est cousue au fil, pour s'ouvrir bien à plat.",
        "The linen cover is thread-sewn so the book opens flat.",
    ),
    "cuir": material("en cuir", "leather", "",
        "Le cuir à tannage végétal vient d'une tannerie du Puy-en-Velay.",
        "The vegetable-tanned leather comes from a tannery in Le Puy-en-Velay.",
    ),
    "a4": material("au format A4", "A4", "",
        "Le fichier PDF est prêt à imprimer au format A4, sur une simple imprimante de bureau.",
        "The PDF file is ready to print at A4 size on an ordinary desktop printer.",
    ),
    "a5": material("au format A5", "A5", "",
        "Le fichier PDF est mis en page au format A5, deux pages par feuille A4.",
        "The PDF file is laid out at A5 size, two pages to an A4 sheet.",
    ),
    "letter": material("au format US Letter", "US Letter", "",
        "Le fichier PDF est mis en page au format US Letter, idéal pour les imprimantes "
        "nord-américaines.",
        "The PDF file is laid out at US Letter size, ideal for North American printers.",
    ),
    "lyon": material("à Lyon", "in Lyon", "",
        "L'atelier se tient dans notre boutique des pentes de la Croix-Rousse.",
        "The workshop takes place in our shop on the slopes of the Croix-Rousse.",
    ),
    "nantes": material("à Nantes", "in Nantes", "",
        "Rendez-vous dans notre atelier de l'île de Nantes, à deux pas du tramway.",
        "We meet in our workshop on the Île de Nantes, a short walk from the tram.",
    ),
    "bordeaux": material("à Bordeaux", "in Bordeaux", "",
        "L'atelier a lieu dans un ancien chai du quartier des Chartrons.",
        "The workshop is held in a former wine store in the Chartrons district.",
    ),
    "lille": material("à Lille", "in Lille", "",
        "Nous vous accueillons dans une verrière lumineuse du Vieux-Lille.",
        "We welcome you in a bright glass-roofed studio in Old Lille.",
    ),
    "en_ligne": material("en ligne", "online", "",
        "La séance se déroule en visioconférence ; la liste du matériel est envoyée une semaine "
        "avant.",
        "The session runs by video call; the list of materials is sent a week before.",
    ),
}
# fmt: on


@dataclass(frozen=True)
class Axis:
    """One choice a shopper makes between variants; values carry a price factor."""

    fr: str
    en: str
    values: tuple[tuple[str, str, float], ...]
    ordered: bool = False  # sizes: take the first values in order; colours: any of them
    # Packs: how many singles each value holds (the first is the single itself). A pack is
    # priced from the single's shelf price and always costs less than that many singles.
    quantities: tuple[int, ...] = ()


# fmt: off
AXES = {
    "seat": Axis("Assise", "Seat", (
        ("Lin naturel", "Natural linen", 1.0),
        ("Terracotta", "Terracotta", 1.0),
        ("Vert sauge", "Sage green", 1.0),
        ("Anthracite", "Charcoal", 1.05),
    )),
    "size": Axis("Taille", "Size", (
        ("Petit", "Small", 1.0),
        ("Moyen", "Medium", 1.35),
        ("Grand", "Large", 1.7),
    ), ordered=True),
    "finish": Axis("Finition", "Finish", (
        ("Naturel", "Natural", 1.0),
        ("Blanc", "White", 1.0),
        ("Noir", "Black", 1.05),
        ("Vert sauge", "Sage green", 1.05),
    )),
    "glaze": Axis("Émail", "Glaze", (
        ("Blanc cassé", "Off-white", 1.0),
        ("Bleu nuit", "Midnight blue", 1.0),
        ("Vert céladon", "Celadon green", 1.0),
        ("Sable", "Sand", 1.0),
    )),
    "set": Axis("Lot", "Set", (
        ("À l'unité", "Single", 1.0),
        ("Lot de 2", "Set of 2", 1.9),
        ("Lot de 4", "Set of 4", 3.6),
        ("Lot de 6", "Set of 6", 5.2),
    ), ordered=True, quantities=(1, 2, 4, 6)),
    "glass": Axis("Teinte", "Tint", (
        ("Transparent", "Clear", 1.0),
        ("Ambre", "Amber", 1.0),
        ("Vert bouteille", "Bottle green", 1.0),
        ("Fumé", "Smoked", 1.05),
    )),
    "cushion": Axis("Dimensions", "Dimensions", (
        ("40 × 40 cm", "40 × 40 cm", 1.0),
        ("45 × 45 cm", "45 × 45 cm", 1.15),
        ("50 × 50 cm", "50 × 50 cm", 1.3),
        ("30 × 50 cm", "30 × 50 cm", 1.1),
    ), ordered=True),
    "colour": Axis("Couleur", "Colour", (
        ("Écru", "Ecru", 1.0),
        ("Terracotta", "Terracotta", 1.0),
        ("Vert sauge", "Sage green", 1.0),
        ("Bleu nuit", "Midnight blue", 1.0),
    )),
    "cloth": Axis("Dimensions", "Dimensions", (
        ("150 × 150 cm", "150 × 150 cm", 1.0),
        ("150 × 250 cm", "150 × 250 cm", 1.4),
        ("150 × 300 cm", "150 × 300 cm", 1.7),
    ), ordered=True),
    "ruling": Axis("Réglure", "Ruling", (
        ("Ligné", "Lined", 1.0),
        ("Quadrillé", "Squared", 1.0),
        ("Pointillé", "Dotted", 1.0),
        ("Blanc", "Plain", 1.0),
    )),
    "format": Axis("Format", "Format", (
        ("A5", "A5", 1.0),
        ("A4", "A4", 1.6),
        ("A3", "A3", 2.4),
        ("50 × 70 cm", "50 × 70 cm", 3.5),
    ), ordered=True),
    "language": Axis("Langue", "Language", (
        ("Français", "French", 1.0),
        ("Anglais", "English", 1.0),
    )),
    "session": Axis("Séance", "Session", (
        ("Samedi matin", "Saturday morning", 1.0),
        ("Samedi après-midi", "Saturday afternoon", 1.0),
        ("Dimanche matin", "Sunday morning", 1.0),
        ("Mercredi soir", "Wednesday evening", 1.0),
    )),
}
# fmt: on


@dataclass(frozen=True)
class Family:
    """A child category and how to name, describe, price and picture its products."""

    key: str
    parent: str
    fr: str
    en: str
    code: str
    shape: str
    nouns: tuple[Noun, ...]
    materials: tuple[str, ...]
    axis: str
    plural_axis: str | None
    euros: tuple[int, int]
    grams: tuple[int, int] | None
    use_fr: str
    use_en: str
    kind: str = ProductKind.PHYSICAL
    adjectives: tuple[Adjective, ...] = ADJECTIVES
    collections: bool = True
    share: float = 1.0


PARENTS = {
    "mobilier": (
        "Mobilier",
        "Furniture",
        "Des meubles en bois massif et en rotin, faits pour durer et se transmettre.",
        "Solid wood and rattan furniture, made to last and be handed down.",
    ),
    "cuisine": (
        "Cuisine & table",
        "Kitchen & dining",
        "Vaisselle en grès, verres soufflés et ustensiles en bois pour tous les jours.",
        "Stoneware, blown glass and wooden utensils for every day.",
    ),
    "textile": (
        "Textile",
        "Textiles",
        "Linge de maison en lin, coton bio et laine, tissé en Europe.",
        "Linen, organic cotton and wool home textiles, woven in Europe.",
    ),
    "papeterie": (
        "Papeterie & ateliers",
        "Stationery & workshops",
        "Carnets, affiches, modèles à imprimer et ateliers créatifs.",
        "Notebooks, prints, printables and creative workshops.",
    ),
}

FAMILIES = (
    Family(
        "chaises", "mobilier", "Chaises", "Chairs", "CH", "chair",
        (Noun("Chaise", "chair", True), Noun("Tabouret", "stool"), Noun("Fauteuil", "armchair"),
         Noun("Banc", "bench")),
        ("chene", "noyer", "frene", "hetre", "rotin", "acier"), "seat", None, (89, 349),
        (3000, 9000),
        "L'assise, légèrement galbée, reste confortable pendant les longs dîners.",
        "The gently curved seat stays comfortable through long dinners.",
    ),
    Family(
        "tables", "mobilier", "Tables", "Tables", "TB", "table",
        (Noun("Table à manger", "dining table", True), Noun("Table basse", "coffee table", True),
         Noun("Console", "console table", True), Noun("Bout de canapé", "side table")),
        ("chene", "noyer", "frene", "marbre", "acier"), "size", None, (149, 1290),
        (8000, 45000),
        "Le plateau, protégé par une finition mate, résiste aux taches du quotidien.",
        "The top has a matt protective finish that stands up to everyday spills.",
    ),
    Family(
        "rangements", "mobilier", "Rangements", "Storage", "RG", "shelf",
        (Noun("Étagère", "shelf", True), Noun("Buffet", "sideboard"),
         Noun("Commode", "chest of drawers", True), Noun("Panier", "basket")),
        ("chene", "noyer", "rotin", "acier"), "finish", None, (49, 899), (2000, 60000),
        "Ses proportions permettent de ranger beaucoup sans encombrer la pièce.",
        "Its proportions let you store a lot without cluttering the room.",
    ),
    Family(
        "luminaires", "mobilier", "Luminaires", "Lighting", "LU", "lamp",
        (Noun("Lampe à poser", "table lamp", True), Noun("Suspension", "pendant light", True),
         Noun("Applique", "wall light", True), Noun("Lampadaire", "floor lamp")),
        ("laiton", "ceramique", "rotin", "washi", "verre_souffle"), "finish", None, (39, 390),
        (600, 7000),
        "Compatible avec les ampoules LED E27 ; câble textile de deux mètres.",
        "Takes E27 LED bulbs; two-metre fabric cable.",
    ),
    Family(
        "tasses", "cuisine", "Tasses & mugs", "Cups & mugs", "TA", "cup",
        (Noun("Tasses", "cups", True, True), Noun("Mugs", "mugs", plural=True),
         Noun("Tasses à espresso", "espresso cups", True, True),
         Noun("Théière", "teapot", True)),
        ("gres", "porcelaine", "faience", "terre_cuite"), "glaze", "set", (12, 69), (250, 1400),
        "Contenance généreuse, anse confortable et bord fin pour boire avec plaisir.",
        "Generous capacity, a comfortable handle and a fine rim for a pleasant sip.",
    ),
    Family(
        "assiettes", "cuisine", "Assiettes & bols", "Plates & bowls", "AB", "plate",
        (Noun("Assiettes plates", "dinner plates", True, True),
         Noun("Assiettes creuses", "soup plates", True, True), Noun("Bols", "bowls", plural=True),
         Noun("Saladier", "salad bowl"), Noun("Plat de service", "serving dish")),
        ("gres", "porcelaine", "faience", "terre_cuite"), "glaze", "set", (15, 89), (400, 4000),
        "Les pièces s'empilent facilement et passent du four à la table.",
        "The pieces stack easily and go straight from oven to table.",
    ),
    Family(
        "ustensiles", "cuisine", "Ustensiles", "Utensils", "US", "board",
        (Noun("Planche à découper", "chopping board", True),
         Noun("Cuillères de service", "serving spoons", True, True),
         Noun("Moulin à poivre", "pepper mill"), Noun("Pot à ustensiles", "utensil holder")),
        ("olivier", "hetre", "acacia", "noyer"), "size", None, (9, 59), (150, 1800),
        "Un ustensile robuste, agréable en main, qui se bonifie avec un peu d'huile alimentaire.",
        "A sturdy utensil that feels good in the hand and improves with a little food-safe oil.",
    ),
    Family(
        "verres", "cuisine", "Carafes & verres", "Carafes & glasses", "CV", "carafe",
        (Noun("Carafe", "carafe", True), Noun("Gobelets", "tumblers", plural=True),
         Noun("Verres à vin", "wine glasses", plural=True), Noun("Pichet", "jug")),
        ("verre_souffle", "verre_recycle"), "glass", "set", (18, 79), (300, 1500),
        "Le verre épais résiste aux petits chocs du quotidien.",
        "The thick glass resists everyday knocks.",
    ),
    Family(
        "coussins", "textile", "Coussins", "Cushions", "CO", "cushion",
        (Noun("Coussin", "cushion"), Noun("Housse de coussin", "cushion cover", True),
         Noun("Galette de chaise", "seat pad", True), Noun("Pouf", "pouffe")),
        ("lin_lave", "coton_bio", "velours", "laine", "chanvre"), "cushion", None, (25, 129),
        (200, 3000),
        "La housse se retire grâce à une fermeture cachée ; garnissage en plumes recyclées.",
        "The cover comes off with a hidden zip; filled with recycled feathers.",
    ),
    Family(
        "plaids", "textile", "Plaids", "Throws", "PL", "throw",
        (Noun("Plaid", "throw"), Noun("Couverture", "blanket", True),
         Noun("Jeté de lit", "bedspread")),
        ("laine", "lin_lave", "coton_bio", "chanvre"), "colour", None, (49, 219), (600, 2500),
        "Assez grand pour s'y envelopper à deux sur le canapé.",
        "Big enough for two to wrap up in on the sofa.",
    ),
    Family(
        "bain", "textile", "Linge de bain", "Bath linen", "LB", "towel",
        (Noun("Serviette de toilette", "hand towel", True), Noun("Drap de bain", "bath sheet"),
         Noun("Tapis de bain", "bath mat"), Noun("Peignoir", "bathrobe")),
        ("eponge", "nid_abeille", "lin_lave", "coton_bio"), "colour", None, (15, 89),
        (200, 1500),
        "La matière gagne en douceur au fil des lavages et sèche rapidement.",
        "The fabric softens wash after wash and dries quickly.",
    ),
    Family(
        "linge_table", "textile", "Linge de table", "Table linen", "LT", "tablecloth",
        (Noun("Nappe", "tablecloth", True),
         Noun("Serviettes de table", "napkins", True, True),
         Noun("Chemin de table", "table runner"), Noun("Sets de table", "placemats", plural=True)),
        ("lin_lave", "coton_bio", "chanvre"), "cloth", "set", (22, 119), (150, 1500),
        "Traitement antitache sans PFAS ; lavable en machine à 40 °C.",
        "PFAS-free stain-resistant finish; machine washable at 40 °C.",
    ),
    Family(
        "carnets", "papeterie", "Carnets", "Notebooks", "CN", "notebook",
        (Noun("Carnet", "notebook"), Noun("Agenda", "planner"), Noun("Cahier", "exercise book"),
         Noun("Carnet de croquis", "sketchbook")),
        ("papier_recycle", "toile_lin", "cuir", "kraft"), "ruling", None, (8, 45), (150, 600),
        "192 pages de papier 90 g/m², agréables sous la plume comme sous le crayon.",
        "192 pages of 90 gsm paper, pleasant under a fountain pen or a pencil.",
    ),
    Family(
        "affiches", "papeterie", "Cartes & affiches", "Cards & prints", "CA", "poster",
        (Noun("Affiche", "print", True), Noun("Cartes postales", "postcards", True, True),
         Noun("Carte de vœux", "greeting card", True), Noun("Calendrier mural", "wall calendar")),
        ("papier_coton", "papier_recycle", "kraft"), "format", "set", (3, 45), (20, 400),
        "Imprimé en France avec des encres végétales ; livré à plat, protégé par un carton "
        "rigide.",
        "Printed in France with plant-based inks; shipped flat in a rigid card mailer.",
    ),
    Family(
        "imprimables", "papeterie", "Modèles imprimables", "Printables", "MI", "printable",
        (Noun("Planificateur imprimable", "printable planner"),
         Noun("Affiche à imprimer", "printable poster", True),
         Noun("Étiquettes à imprimer", "printable labels", True, True),
         Noun("Calendrier à imprimer", "printable calendar")),
        ("a4", "a5", "letter"), "language", None, (4, 15), None,
        "Fichier PDF haute définition ; aucun objet n'est expédié.",
        "High-resolution PDF file; no physical item is shipped.",
        kind=ProductKind.DIGITAL, share=0.5,
    ),
    Family(
        "ateliers", "papeterie", "Ateliers", "Workshops", "AT", "pottery",
        (Noun("Atelier de céramique", "ceramics workshop"),
         Noun("Atelier de tissage", "weaving workshop"),
         Noun("Atelier de calligraphie", "calligraphy workshop"),
         Noun("Cours d'ébénisterie", "woodworking class")),
        ("lyon", "nantes", "bordeaux", "lille", "en_ligne"), "session", None, (45, 120), None,
        "Tout le matériel est fourni ; thé et biscuits maison offerts.",
        "All materials are provided; tea and home-made biscuits included.",
        kind=ProductKind.SERVICE, adjectives=WORKSHOP_ADJECTIVES, collections=False, share=0.3,
    ),
)  # fmt: skip
FAMILY = {family.key: family for family in FAMILIES}

COLLECTIONS = (
    "Margaux", "Camille", "Louise", "Jeanne", "Lucie", "Adèle", "Colette", "Simone", "Suzanne",
    "Hélène", "Joséphine", "Marcel", "Gaston", "Émile", "Augustin", "Arles", "Biarritz",
    "Étretat", "Menton", "Honfleur", "Annecy", "Cassis", "Gordes", "Uzès", "Collioure",
    "Giverny", "Vézelay", "Sète", "Bastia", "Dinard",
)  # fmt: skip

TAGS = {
    "handmade": ("Fait main", "Handmade"),
    "solid_wood": ("Bois massif", "Solid wood"),
    "eco": ("Éco-conçu", "Eco-designed"),
    "new": ("Nouveauté", "New"),
    "made_in_france": ("Fabriqué en France", "Made in France"),
    "limited": ("Édition limitée", "Limited edition"),
    "favourite": ("Coup de cœur", "Staff pick"),
    "gift": ("Idée cadeau", "Gift idea"),
    "washed_linen": ("Lin lavé", "Washed linen"),
    "organic": ("Coton bio", "Organic cotton"),
    "recycled": ("Matière recyclée", "Recycled material"),
    "dishwasher": ("Va au lave-vaisselle", "Dishwasher safe"),
    "small_batch": ("Petite série", "Small batch"),
    "instant": ("Téléchargement immédiat", "Instant download"),
    "local_maker": ("Artisan local", "Local maker"),
}

# (French, English, made in France?)
ORIGINS = {
    "mobilier": (
        ("Fabriqué dans un atelier familial du Jura.", "Made in a family workshop in the Jura.",
         True),
        ("Assemblé à la main près de Nantes.", "Assembled by hand near Nantes.", True),
        ("Conçu à Lyon, fabriqué au Portugal.", "Designed in Lyon, made in Portugal.", False),
    ),
    "cuisine": (
        ("Fabrication artisanale près de Limoges.", "Handmade near Limoges.", True),
        ("Fabrication en petite série dans la Drôme.", "Made in small batches in the Drôme.",
         True),
        ("Conception lyonnaise, fabrication portugaise.", "Designed in Lyon, made in Portugal.",
         False),
    ),
    "textile": (
        ("Tissage dans les Vosges.", "Woven in the Vosges.", True),
        ("Confection dans un atelier d'insertion à Roubaix.",
         "Sewn in a social-enterprise workshop in Roubaix.", True),
        ("Tissage au Portugal, finitions en France.", "Woven in Portugal, finished in France.",
         False),
    ),
    "papeterie": (
        ("Impression et reliure à Angoulême.", "Printed and bound in Angoulême.", True),
        ("Conception et impression à Lyon.", "Designed and printed in Lyon.", True),
    ),
}  # fmt: skip

# Openings shared by every physical product; {det} is notre/nos, {gn:...} agrees with the
# noun (ms|fs|mp|fp), {n:...} with its number (singular|plural).
INTROS = (
    (
        "{Det} {name} {n:a|ont} été {gn:pensé|pensée|pensés|pensées} pour le quotidien : des "
        "lignes simples, des matières franches et des finitions soignées.",
        "Our {name} {n:is|are} designed for everyday life: simple lines, honest materials and "
        "careful finishes.",
    ),
    (
        "{n:Sobre|Sobres} et {gn:chaleureux|chaleureuse|chaleureux|chaleureuses}, {det} {name} "
        "{n:trouve|trouvent} naturellement {n:sa|leur} place, de l'appartement en ville à la "
        "maison de campagne.",
        "Understated and warm, our {name} {n:fits|fit} naturally anywhere, from a city flat to "
        "a country house.",
    ),
    (
        "Simple à vivre, {det} {name} {n:accompagne|accompagnent} les gestes de tous les jours "
        "sans jamais se démoder.",
        "Easy to live with, our {name} {n:accompanies|accompany} everyday life without ever "
        "going out of style.",
    ),
    (
        "Nous avons dessiné {det} {name} avec un atelier partenaire, en cherchant la justesse "
        "plutôt que l'effet.",
        "We designed our {name} with a partner workshop, aiming for balance rather than effect.",
    ),
    (
        "Des proportions justes, une matière qui vieillit bien : {det} {name} "
        "{gn:est fait|est faite|sont faits|sont faites} pour durer.",
        "Balanced proportions and a material that ages well: our {name} {n:is|are} made to last.",
    ),
)
DIGITAL_INTROS = (
    (
        "{Det} {name} {n:se télécharge|se téléchargent} dès la commande validée et "
        "{n:s'imprime|s'impriment} chez vous autant de fois que nécessaire.",
        "Our {name} {n:downloads|download} as soon as your order is confirmed and can be "
        "printed at home as often as you need.",
    ),
    (
        "Une mise en page soignée, pensée pour l'impression : marges généreuses, typographie "
        "lisible et couleurs douces.",
        "A careful layout designed for printing: generous margins, legible type and soft colours.",
    ),
)
SERVICE_INTROS = (
    (
        "En petit groupe de six personnes au plus, {det} {name} vous transmet les gestes "
        "essentiels, à votre rythme.",
        "In a small group of six at most, our {name} teaches you the essential techniques at "
        "your own pace.",
    ),
    (
        "Trois heures pour apprendre, expérimenter et repartir avec votre propre création.",
        "Three hours to learn, experiment and leave with something you made yourself.",
    ),
)
COLLECTION_OUTRO = (
    "La collection « {collection} » réunit des objets aux lignes sobres, faits pour vivre "
    "ensemble. Une question sur les dimensions ? Écrivez-nous, nous répondons sous 24 heures !",
    "The “{collection}” collection brings together simple, well-made pieces designed to live "
    "together. A question about sizes? Write to us and we will reply within 24 hours!",
)
QUESTION_OUTRO = (
    "Une question sur cet article ? Écrivez-nous, nous répondons sous 24 heures !",
    "A question about this item? Write to us and we will reply within 24 hours!",
)
SERVICE_OUTRO = (
    "Une question avant de réserver ? Écrivez-nous, nous répondons sous 24 heures !",
    "A question before booking? Write to us and we will reply within 24 hours!",
)
ALT_VIEWS = (
    ("vue d'ensemble", "overall view"),
    ("détail de la matière", "close-up of the material"),
    ("mise en scène dans un intérieur", "styled in a room"),
)


def _agree(template: str, noun: Noun, **values: str) -> str:
    def gender_number(match: re.Match[str]) -> str:
        return match.group(1).split("|")[noun.form]

    def number(match: re.Match[str]) -> str:
        return match.group(1).split("|")[1 if noun.plural else 0]

    text = re.sub(r"\{gn:([^}]*)\}", gender_number, template)
    text = re.sub(r"\{n:([^}]*)\}", number, text)
    values = {
        "Det": "Nos" if noun.plural else "Notre",
        "det": "nos" if noun.plural else "notre",
        **values,
    }
    return text.format(**values)


# -- the plan: what to create, decided before any row is written -----------------------


@dataclass
class VariantPlan:
    sku: str
    barcode: str
    price: int  # the price it starts at
    options: list[dict[str, Any]]
    track_inventory: bool
    position: int
    weight_grams: int | None
    since: datetime
    # Later prices, oldest first: (price, compare-at price, from).
    changes: list[tuple[int, int | None, datetime]] = field(default_factory=list)
    stock: int = 0

    @property
    def final_price(self) -> int:
        return self.changes[-1][0] if self.changes else self.price


@dataclass
class ProductPlan:
    family: Family
    kind: str
    status: str
    featured: bool
    created_at: datetime
    published_at: datetime | None
    texts: dict[str, catalogue.Text]
    tags: list[str]
    variants: list[VariantPlan]
    pictures: list[tuple[PictureKey, str, str]]  # (pool key, alt fr, alt en)


@dataclass(frozen=True)
class Title:
    family: Family
    noun: Noun
    adjective: Adjective | None
    material: str
    collection: str | None
    fr_override: str | None = None
    en_override: str | None = None

    def name_fr(self) -> str:
        parts = [self.noun.fr]
        if self.adjective:
            parts.append(self.adjective.fr(self.noun))
        parts.append(MATERIALS[self.material].fr)
        return " ".join(parts)

    def name_en(self) -> str:
        mat = MATERIALS[self.material].en
        adj = self.adjective.en if self.adjective else ""
        if self.family.kind == ProductKind.SERVICE:
            parts = [adj, self.noun.en, mat]
        else:
            parts = [adj, mat, self.noun.en]
        return " ".join(p for p in parts if p)

    def fr(self) -> str:
        if self.fr_override:
            return fr_typography(self.fr_override)
        title = self.name_fr()
        if self.collection:
            title += f" « {self.collection} »"
        return fr_typography(title)

    def en(self) -> str:
        if self.en_override:
            return self.en_override
        title = self.name_en()
        if self.collection:
            title += f" “{self.collection}”"
        return title[0].upper() + title[1:]


def _heroes() -> list[Title]:
    """Hand-picked first products: the search examples and a few typography showcases."""
    tasses, chaises, affiches = FAMILY["tasses"], FAMILY["chaises"], FAMILY["affiches"]
    return [
        Title(tasses, tasses.nouns[0], ADJECTIVES[0], "gres", None),
        Title(
            tasses,
            Noun("Coffret", "gift box"),
            None,
            "gres",
            None,
            "Coffret « Les Élégantes » : six tasses en grès",
            "“Les Élégantes” gift box: six stoneware cups",
        ),
        Title(
            chaises,
            chaises.nouns[0],
            None,
            "chene",
            None,
            "Chaise en chêne massif",
            "Solid oak chair",
        ),
        Title(
            affiches,
            affiches.nouns[0],
            None,
            "papier_coton",
            None,
            "Affiche « Bonjour ! » en papier coton",
            "“Bonjour!” cotton paper print",
        ),
    ]


class Planner:
    """Draws the whole catalogue from one seeded generator, in a fixed order."""

    def __init__(self, count: int, now: datetime) -> None:
        self.rng = random.Random(SEED)  # noqa: S311  (reproducible demo data, no secret)
        self.count = count
        self.now = now
        self.used: dict[str, set[tuple[int, int, int, int]]] = {f.key: set() for f in FAMILIES}
        self.slugs: dict[str, set[str]] = {"fr": set(), "en": set()}
        self.variant_number = 0

    def plans(self) -> Iterator[ProductPlan]:
        heroes = _heroes()
        for number in range(self.count):
            if number < len(heroes):
                yield self._product(number, heroes[number], hero=True)
            else:
                yield self._product(number, self._title(), hero=False)

    def _title(self) -> Title:
        families = [f for f in FAMILIES if len(self.used[f.key]) < _capacity(f)]
        if not families:
            raise ValueError("the demo vocabulary cannot name that many distinct products")
        rng = self.rng
        family = rng.choices(families, weights=[f.share for f in families])[0]
        while True:
            pick = (
                rng.randrange(len(family.nouns)),
                rng.randrange(len(family.adjectives)),
                rng.randrange(len(family.materials)),
                rng.randrange(len(COLLECTIONS)) if family.collections else 0,
            )
            if pick not in self.used[family.key]:
                self.used[family.key].add(pick)
                break
        return Title(
            family,
            family.nouns[pick[0]],
            family.adjectives[pick[1]],
            family.materials[pick[2]],
            COLLECTIONS[pick[3]] if family.collections else None,
        )

    def _product(self, number: int, title: Title, *, hero: bool) -> ProductPlan:
        rng = self.rng
        family = title.family
        age = rng.randint(3, 420)
        if hero:  # old enough to have a discount with a price history behind it
            age = max(age, 90)
        created = self.now - timedelta(days=age, minutes=rng.randint(0, 1439))
        roll = rng.random()
        status = ProductStatus.ACTIVE
        if not hero and roll < 0.03:
            status = ProductStatus.DRAFT
        elif not hero and roll < 0.06:
            status = ProductStatus.ARCHIVED
        published = (
            None if status == ProductStatus.DRAFT else created + timedelta(hours=rng.randint(1, 72))
        )
        featured = hero or rng.random() < 0.06
        origin = rng.choice(ORIGINS[family.parent])
        texts = self._texts(title, origin)
        variants = self._variants(number, title, created, discount_first=number == 0)
        out_of_stock = not hero and rng.random() < 0.10
        for variant in variants:
            if variant.track_inventory and not out_of_stock and rng.random() > 0.05:
                variant.stock = rng.choice((1, 2, 3)) if rng.random() < 0.15 else rng.randint(4, 40)
        tags = self._tags(title, origin, age, featured)
        return ProductPlan(
            family=family,
            kind=family.kind,
            status=status,
            featured=featured,
            created_at=created,
            published_at=published,
            texts=texts,
            tags=tags,
            variants=variants,
            pictures=self._pictures(title, texts),
        )

    def _texts(self, title: Title, origin: tuple[str, str, bool]) -> dict[str, catalogue.Text]:
        rng = self.rng
        family, noun = title.family, title.noun
        name_fr = title.name_fr()
        name_fr = name_fr[0].lower() + name_fr[1:]
        name_en = title.name_en()
        intros = {
            ProductKind.DIGITAL: DIGITAL_INTROS,
            ProductKind.SERVICE: SERVICE_INTROS,
        }.get(family.kind, INTROS)
        intro_fr, intro_en = rng.choice(intros)
        mat = MATERIALS[title.material]
        first_fr = " ".join((_agree(intro_fr, noun, name=name_fr), mat.sentence_fr))
        first_en = " ".join((_agree(intro_en, noun, name=name_en), mat.sentence_en))
        second_fr, second_en = f"{family.use_fr} {origin[0]}", f"{family.use_en} {origin[1]}"
        if title.collection:
            third_fr, third_en = (s.format(collection=title.collection) for s in COLLECTION_OUTRO)
        elif family.kind == ProductKind.SERVICE:
            third_fr, third_en = SERVICE_OUTRO
        else:
            third_fr, third_en = QUESTION_OUTRO
        texts = {}
        for locale, paragraphs, shown in (
            ("fr", (first_fr, second_fr, third_fr), title.fr()),
            ("en", (first_en, second_en, third_en), title.en()),
        ):
            if locale == "fr":
                paragraphs = tuple(fr_typography(p) for p in paragraphs)
            html = _link_to_contact("".join(f"<p>{p}</p>" for p in paragraphs), locale)
            texts[locale] = catalogue.Text(
                title=shown,
                description=html,
                slug=self._slug(locale, shown),
                meta_description=_summary(" ".join(paragraphs)),
            )
        return texts

    def _slug(self, locale: str, title: str) -> str:
        wanted = slugify(title)
        slug, n = wanted, 2
        while slug in self.slugs[locale]:
            slug, n = f"{wanted}-{n}", n + 1
        self.slugs[locale].add(slug)
        return slug

    def _variants(
        self, number: int, title: Title, created: datetime, *, discount_first: bool
    ) -> list[VariantPlan]:
        rng = self.rng
        family = title.family
        axis_key = family.plural_axis if title.noun.plural and family.plural_axis else family.axis
        axis = AXES[axis_key]
        most = min(4, len(axis.values))
        if family.kind == ProductKind.DIGITAL:
            count = rng.choice((1, 1, 2))
        else:
            count = min(most, rng.choices((1, 2, 3, 4), weights=(25, 30, 30, 15))[0])
        if axis.ordered:
            values = list(axis.values[:count])
        else:
            values = sorted(rng.sample(axis.values, count), key=axis.values.index)
        low, high = family.euros
        base = round(100 * low * (high / low) ** rng.random())
        # Packs: how many singles each variant holds (0: not a pack axis).
        quantities = [
            axis.quantities[axis.values.index(v)] if axis.quantities else 0 for v in values
        ]
        single = shop_price(base * values[0][2])
        physical = family.kind == ProductKind.PHYSICAL
        variants = []
        for position, (value_fr, value_en, factor) in enumerate(values):
            quantity = quantities[position]
            self.variant_number += 1
            options = (
                [
                    {
                        "name": {"fr": fr_typography(axis.fr), "en": axis.en},
                        "value": {"fr": fr_typography(value_fr), "en": value_en},
                    }
                ]
                if count > 1
                else []
            )
            grams = family.grams
            variants.append(
                VariantPlan(
                    sku=f"{family.code}-{number + 1:05d}-{position + 1}",
                    barcode=ean13(f"376{self.variant_number:09d}"),
                    price=pack_price(single, quantity, factor)
                    if quantity
                    else shop_price(base * factor),
                    options=options,
                    track_inventory=physical,
                    position=position,
                    weight_grams=round(rng.randint(*grams) * factor) if grams else None,
                    since=created,
                )
            )
        for index, variant in enumerate(variants):
            if (discount_first and index == 0) or rng.random() < 0.15:
                self._discount(variant, created, earlier_low=discount_first and index == 0)
        # Packs follow their single's prices, whatever was drawn for them above (drawn all
        # the same, so the rest of the demo stays as it was).
        for variant, quantity, value in zip(variants, quantities, values, strict=True):
            if quantity > 1:
                variant.changes = _pack_changes(variants[0], variant.price, quantity, value[2])
        return variants

    def _discount(self, variant: VariantPlan, created: datetime, *, earlier_low: bool) -> None:
        """A price cut announced against the old price, 40+ days after that price started.

        Some variants had a short promotion 20 days before the cut, so their Omnibus
        reference (the lowest price of the previous 30 days) is lower than the compare-at.
        """
        rng = self.rng
        cut_at = self.now - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 23))
        if cut_at - created < timedelta(days=40):
            return
        old = variant.price
        new = shop_price(old * (1 - rng.choice((0.15, 0.2, 0.25, 0.3, 0.4))))
        if new >= old:
            return
        promo = shop_price(old * 0.9)
        if (earlier_low or rng.random() < 0.25) and new < promo < old:
            variant.changes.append((promo, None, cut_at - timedelta(days=20)))
            variant.changes.append((old, None, cut_at - timedelta(days=13)))
        variant.changes.append((new, old, cut_at))

    def _tags(
        self, title: Title, origin: tuple[str, str, bool], age: int, featured: bool
    ) -> list[str]:
        rng = self.rng
        family = title.family
        flags = MATERIALS[title.material].flags
        tags = set()
        if "wood" in flags and family.parent in ("mobilier", "cuisine"):
            tags.add("solid_wood")
        if "recycled" in flags:
            tags.update(("recycled", "eco"))
        if "organic" in flags:
            tags.update(("organic", "eco"))
        if "eco" in flags:
            tags.add("eco")
        if "linen" in flags:
            tags.add("washed_linen")
        if family.key in ("tasses", "assiettes", "verres") and "hand_wash" not in flags:
            tags.add("dishwasher")
        if family.kind == ProductKind.DIGITAL:
            tags.add("instant")
        elif family.kind == ProductKind.SERVICE:
            tags.add("local_maker")
        else:
            if "handmade" in flags or rng.random() < 0.2:
                tags.add("handmade")
            if origin[2]:
                tags.add("made_in_france")
        if age <= 30:
            tags.add("new")
        if featured:
            tags.add("favourite")
        for key, chance in (("gift", 0.15), ("small_batch", 0.1), ("limited", 0.05)):
            if rng.random() < chance:
                tags.add(key)
        return sorted(tags)

    def _pictures(
        self, title: Title, texts: dict[str, catalogue.Text]
    ) -> list[tuple[PictureKey, str, str]]:
        """The product's own overall view (drawn for it alone, seeded by its slug), then a
        close-up of its material and a room of its top category (both shared)."""
        rng = self.rng
        count = rng.choices((1, 2, 3), weights=(30, 45, 25))[0]
        rng.randrange(2)  # still drawn: the plan's later draws stay what they were
        seed = zlib.crc32(texts["fr"].slug.encode())
        keys: list[PictureKey] = [
            ("product", f"{title.family.key}/{title.material}", seed),
            ("material", title.material, 0),
            ("room", title.family.parent, 0),
        ]
        return [
            (
                keys[i],
                f"{texts['fr'].title}, {fr_typography(ALT_VIEWS[i][0])}",
                f"{texts['en'].title}, {ALT_VIEWS[i][1]}",
            )
            for i in range(count)
        ]


CONTACT_LINKS = {"fr": ("Écrivez-nous", "/fr/contact"), "en": ("Write to us", "/en/contact")}


def _link_to_contact(html: str, locale: str) -> str:
    """« Écrivez-nous » in a description links to the contact page."""
    words, path = CONTACT_LINKS[locale]
    return html.replace(words, f'<a href="{path}">{words}</a>', 1)


def _capacity(family: Family) -> int:
    collections = len(COLLECTIONS) if family.collections else 1
    return len(family.nouns) * len(family.adjectives) * len(family.materials) * collections


def _summary(text: str, limit: int = 155) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:\u00a0\u202f") + "…"


def shop_price(cents: float) -> int:
    """A shelf price in cents: 11,90 €, 149,90 €, 1 289,90 €."""
    step = 100 if cents < 10_000 else 500 if cents < 100_000 else 1000
    return max(step, round(cents / step) * step) - 10


def pack_price(single: int, quantity: int, factor: float) -> int:
    """The shelf price of a pack of ``quantity`` costing about ``factor`` singles (a set of 4
    at 3.6: 10 % off), and always less than ``quantity`` singles at ``single``."""
    price = shop_price(single * factor)
    while quantity > 1 and price >= quantity * single and price > 90:
        price -= 10
        while price > 90 and shop_price(price) != price:
            price -= 10
    return price


def _pack_changes(
    single: VariantPlan, start: int, quantity: int, factor: float
) -> list[tuple[int, int | None, datetime]]:
    """A pack's later prices: its single's, on the same days, priced as a pack. A reduction
    the rounding would not make lower is left out, as is a short promotion that would not
    sit between the pack's old and new prices (its Omnibus reference would be wrong)."""
    changes = [
        (pack_price(price, quantity, factor), start if compare_at else None, at)
        for price, compare_at, at in single.changes
    ]
    if not changes or changes[-1][0] >= start:
        return []
    cut = changes[-1]
    if len(changes) == 3 and cut[0] < changes[0][0] < start:  # promotion, back, then the cut
        return changes
    return [cut]


def ean13(first_twelve: str) -> str:
    """The EAN-13 code for twelve digits, with its check digit."""
    digits = [int(d) for d in first_twelve]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return first_twelve + str((10 - total % 10) % 10)


# -- writing ---------------------------------------------------------------------------


@dataclass
class CatalogueSummary:
    categories: int = 0
    tags: int = 0
    products: dict[str, int] = field(default_factory=dict)
    variants: int = 0
    discounted: int = 0
    receipts: int = 0
    out_of_stock: int = 0
    pictures: int = 0
    picture_files: int = 0

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.products.items()))
        return [
            f"catalogue: {sum(self.products.values())} products ({statuses}), "
            f"{self.variants} variants ({self.discounted} discounted)",
            f"catalogue: {self.categories} categories, {self.tags} tags",
            f"stock: {self.receipts} receipts, {self.out_of_stock} products out of stock",
            f"images: {self.pictures} product images sharing {self.picture_files} drawn pictures",
        ]


def load_catalogue(count: int = DEFAULT_PRODUCTS) -> CatalogueSummary:
    """Create the demo catalogue through the catalogue services, as the back office would, in
    one transaction; renditions are rendered after it commits."""
    now = utcnow()
    summary = CatalogueSummary()
    categories = _create_categories()
    tag_ids = {
        key: taxonomy.save_tag(None, _tag_texts(key), noindex=key in NOINDEX_TAGS, commit=False).id
        for key in TAGS
    }
    summary.categories, summary.tags = len(categories), len(tag_ids)

    plans = list(Planner(count, now).plans())
    pool: dict[PictureKey, ProductImage] = {}
    shared_images = 0
    variant_ids = []
    for plan in plans:
        product_id, ids = _create_product(plan, categories[plan.family.key].id, tag_ids)
        variant_ids.append(ids)
        shared_images += _add_pictures(plan, product_id, pool)
        if plan.status == ProductStatus.ACTIVE:
            _share_first_picture(categories[plan.family.parent], product_id)
    summary.discounted = sum(bool(v.changes) for plan in plans for v in plan.variants)
    summary.receipts = _receive_stock(plans, variant_ids)
    summary.pictures, summary.picture_files = len(pool) + shared_images, len(pool)
    catalogue.commit_changes()

    for plan in plans:
        summary.products[plan.status] = summary.products.get(plan.status, 0) + 1
        summary.variants += len(plan.variants)
        tracked = [v for v in plan.variants if v.track_inventory]
        summary.out_of_stock += bool(tracked) and not any(v.stock for v in tracked)
    return summary


# Search engine texts the merchant wrote for a few pages (the others use their own text).
CATEGORY_SEO = {
    "mobilier": (
        ("Meubles en bois massif et rotin", "Solid wood and rattan furniture"),
        (
            "Chaises, tables et rangements en bois massif et en rotin, faits pour durer. "
            "Livraison depuis la France.",
            "Chairs, tables and storage in solid wood and rattan, made to last. Shipped from "
            "France.",
        ),
    ),
    "textile": (
        ("Linge de maison en lin et coton bio", "Linen and organic cotton home textiles"),
        (
            "Draps, nappes et plaids en lin lavé, coton bio et laine, tissés en Europe.",
            "Sheets, tablecloths and throws in washed linen, organic cotton and wool, woven "
            "in Europe.",
        ),
    ),
}
TAG_SEO = {
    "made_in_france": (
        ("Objets fabriqués en France", "Goods made in France"),
        (
            "Meubles, vaisselle et linge fabriqués en France par des ateliers indépendants.",
            "Furniture, tableware and linen made in France by independent workshops.",
        ),
    ),
    "gift": (
        ("Idées cadeaux choisies avec soin", "Gift ideas chosen with care"),
        (
            "Des cadeaux utiles et durables, de la tasse en grès au plaid en laine.",
            "Useful, lasting gifts, from the stoneware mug to the wool throw.",
        ),
    ),
}
# Pages whose list changes every week: shown to shoppers, kept out of search engines.
NOINDEX_TAGS = ("new",)


@dataclass
class DemoCategory:
    id: int
    data: taxonomy.CategoryInput  # as saved, for the shared picture added later


def _create_categories() -> dict[str, DemoCategory]:
    categories = {}
    for position, (key, (fr, en, text_fr, text_en)) in enumerate(PARENTS.items()):
        data = taxonomy.CategoryInput(
            texts=_category_texts(
                key,
                (fr_typography(fr), en),
                (f"<p>{fr_typography(text_fr)}</p>", f"<p>{text_en}</p>"),
            ),
            position=position,
            featured=True,
        )
        parent = categories[key] = DemoCategory(
            taxonomy.save_category(None, data, commit=False).id, data
        )
        children = [f for f in FAMILIES if f.parent == key]
        for child_position, family in enumerate(children):
            data = taxonomy.CategoryInput(
                texts=_category_texts(family.key, (fr_typography(family.fr), family.en)),
                parent_id=parent.id,
                position=child_position,
            )
            categories[family.key] = DemoCategory(
                taxonomy.save_category(None, data, commit=False).id, data
            )
    return categories


def _category_texts(
    key: str, names: tuple[str, str], descriptions: tuple[str, str] = ("", "")
) -> dict[str, taxonomy.CategoryText]:
    titles, meta_descriptions = CATEGORY_SEO.get(key, (("", ""), ("", "")))
    return {
        locale: taxonomy.CategoryText(
            name=names[index],
            description=descriptions[index],
            meta_title=_seo_text(titles, index),
            meta_description=_seo_text(meta_descriptions, index),
        )
        for index, locale in enumerate(("fr", "en"))
    }


def _tag_texts(key: str) -> dict[str, taxonomy.TagText]:
    names = TAGS[key]
    titles, meta_descriptions = TAG_SEO.get(key, (("", ""), ("", "")))
    return {
        locale: taxonomy.TagText(
            name=names[index],
            meta_title=_seo_text(titles, index),
            meta_description=_seo_text(meta_descriptions, index),
        )
        for index, locale in enumerate(("fr", "en"))
    }


def _seo_text(texts: tuple[str, str], index: int) -> str:
    return fr_typography(texts[0]) if index == 0 else texts[1]


def _create_product(
    plan: ProductPlan, category_id: int, tag_ids: dict[str, int]
) -> tuple[int, list[int]]:
    """The product as a draft, its variants at their first price, then published (archived
    products were published once), then each later price in the order it came."""
    product = catalogue.save_product(
        None,
        catalogue.ProductInput(
            texts=plan.texts,
            kind=plan.kind,
            category_id=category_id,
            tag_ids=tuple(sorted(tag_ids[tag] for tag in plan.tags)),
            featured=plan.featured,
        ),
        at=plan.created_at,
        commit=False,
    )
    variants = [
        catalogue.create_variant(
            product.id, _variant_input(v, v.price, None), at=v.since, commit=False
        )
        for v in plan.variants
    ]
    if plan.published_at is not None:
        catalogue.set_status(product.id, ProductStatus.ACTIVE, at=plan.published_at, commit=False)
    if plan.status == ProductStatus.ARCHIVED:
        catalogue.set_status(product.id, ProductStatus.ARCHIVED, at=plan.published_at, commit=False)
    changes = sorted(
        (at, index, price, compare_at)
        for index, variant in enumerate(plan.variants)
        for price, compare_at, at in variant.changes
    )
    for at, index, price, compare_at in changes:
        catalogue.update_variant(
            variants[index].id,
            _variant_input(plan.variants[index], price, compare_at),
            at=at,
            commit=False,
        )
    return product.id, [v.id for v in variants]


def _variant_input(
    variant: VariantPlan, price: int, compare_at_price: int | None
) -> catalogue.VariantInput:
    return catalogue.VariantInput(
        sku=variant.sku,
        price=price,
        compare_at_price=compare_at_price,
        barcode=variant.barcode,
        options=variant.options,
        track_inventory=variant.track_inventory,
        weight_grams=variant.weight_grams,
    )


def _receive_stock(plans: Sequence[ProductPlan], variant_ids: list[list[int]]) -> int:
    receipts = [
        (variant_id, variant.stock)
        for plan, ids in zip(plans, variant_ids, strict=True)
        for variant, variant_id in zip(plan.variants, ids, strict=True)
        if variant.track_inventory and variant.stock > 0
    ]
    if len(receipts) <= STOCK_THROUGH_SERVICE_MAX:
        for variant_id, quantity in receipts:
            inventory.receive(variant_id, quantity, reason=STOCK_REASON, commit=False)
        return len(receipts)
    now = utcnow()
    _insert_rows(
        InventoryItem,
        [
            {
                "variant_id": vid,
                "on_hand": qty,
                "reserved": 0,
                "low_stock_threshold": None,
                "updated_at": now,
            }
            for vid, qty in receipts
        ],
    )
    _insert_rows(
        InventoryMovement,
        [
            {
                "variant_id": vid,
                "kind": MovementKind.RECEIPT,
                "quantity": qty,
                "reason": STOCK_REASON,
                "order_id": None,
                "actor_id": None,
                "created_at": now,
            }
            for vid, qty in receipts
        ],
    )
    return len(receipts)


def _add_pictures(plan: ProductPlan, product_id: int, pool: dict[PictureKey, ProductImage]) -> int:
    """The first product to show a pool picture uploads it; the others point at its file
    (rows the back office cannot make: it stores each upload under its own product).
    Returns the number of such shared rows."""
    shared = 0
    for position, (key, alt_fr, alt_en) in enumerate(plan.pictures):
        source = pool.get(key)
        if source is None:
            pool[key] = images.add_product_image(
                product_id,
                io.BytesIO(draw_picture(key)),
                alt_fr=alt_fr,
                alt_en=alt_en,
                commit=False,
            )
            continue
        db.session.add(
            ProductImage(
                product_id=product_id,
                position=position,
                path=source.path,
                sha256=source.sha256,
                width=source.width,
                height=source.height,
                alt_fr=alt_fr[: images.ALT_MAX_LENGTH],
                alt_en=alt_en[: images.ALT_MAX_LENGTH],
                renditions={},
            )
        )
        shared += 1
    return shared


def _share_first_picture(category: DemoCategory, product_id: int) -> None:
    """A top category is shared with the first picture of its first published product."""
    if category.data.og_image_id is not None:
        return
    first = db.session.execute(
        db.select(ProductImage.id)
        .where(ProductImage.product_id == product_id)
        .order_by(ProductImage.position)
        .limit(1)
    ).scalar()
    if first is not None:
        category.data = replace(category.data, og_image_id=first)
        taxonomy.save_category(category.id, category.data, commit=False)


def _insert_rows(target: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(target), rows[start : start + CHUNK])


# -- pictures --------------------------------------------------------------------------

# Per parent: (gradient top, gradient bottom, ink, accent, paper), one per composition.
PALETTES = {
    "mobilier": (
        ("#f3e9dc", "#d9c3a5", "#5b4636", "#b07d4f", "#fbf7f1"),
        ("#e8efe9", "#b9cbbd", "#3d4a3f", "#c28f5c", "#f7faf7"),
    ),
    "cuisine": (
        ("#f6efe6", "#e3cdb5", "#3f5561", "#c8734a", "#fffaf3"),
        ("#eaf1f3", "#bcd3d9", "#2f4858", "#d9a441", "#f8fbfc"),
    ),
    "textile": (
        ("#f4ece4", "#e2c9b8", "#6b4e3d", "#c46b4f", "#fdf8f4"),
        ("#eef0e6", "#c9d1b3", "#4b5a3a", "#a7794d", "#fafbf6"),
    ),
    "papeterie": (
        ("#f5f1e8", "#dcd3bf", "#2e3a59", "#c9553d", "#fffdf8"),
        ("#ecedf3", "#c5c8da", "#36324a", "#e0a43b", "#fbfbfd"),
    ),
}

# Silhouettes in a unit box: (primitive, coordinates..., colour name).
# fmt: off
SHAPES: dict[str, list[tuple[Any, ...]]] = {
    "chair": [
        ("rrect", 0.28, 0.05, 0.72, 0.45, "accent"),
        ("rrect", 0.22, 0.45, 0.78, 0.58, "ink"),
        ("rect", 0.25, 0.58, 0.31, 0.95, "ink"),
        ("rect", 0.69, 0.58, 0.75, 0.95, "ink"),
    ],
    "table": [
        ("ellipse", 0.44, 0.12, 0.56, 0.35, "accent"),
        ("rrect", 0.05, 0.35, 0.95, 0.43, "ink"),
        ("rect", 0.10, 0.43, 0.90, 0.48, "accent"),
        ("rect", 0.12, 0.43, 0.17, 0.94, "ink"),
        ("rect", 0.83, 0.43, 0.88, 0.94, "ink"),
    ],
    "shelf": [
        ("rect", 0.15, 0.05, 0.85, 0.95, "ink"),
        ("rect", 0.19, 0.09, 0.81, 0.33, "paper"),
        ("rect", 0.19, 0.37, 0.81, 0.61, "paper"),
        ("rect", 0.19, 0.65, 0.81, 0.91, "paper"),
        ("rect", 0.24, 0.15, 0.30, 0.33, "accent"),
        ("rect", 0.31, 0.19, 0.36, 0.33, "ink"),
        ("ellipse", 0.56, 0.44, 0.72, 0.61, "accent"),
        ("rect", 0.60, 0.73, 0.76, 0.91, "accent"),
    ],
    "lamp": [
        ("poly", ((0.30, 0.10), (0.70, 0.10), (0.82, 0.45), (0.18, 0.45)), "accent"),
        ("rect", 0.48, 0.45, 0.52, 0.86, "ink"),
        ("ellipse", 0.32, 0.82, 0.68, 0.95, "ink"),
    ],
    "cup": [
        ("ellipse", 0.10, 0.76, 0.90, 0.94, "accent"),
        ("ring", 0.58, 0.40, 0.86, 0.66, "ink"),
        ("rrect", 0.20, 0.28, 0.68, 0.84, "ink"),
        ("rect", 0.20, 0.28, 0.68, 0.34, "paper"),
    ],
    "plate": [
        ("ellipse", 0.05, 0.20, 0.95, 0.85, "accent"),
        ("ellipse", 0.17, 0.29, 0.83, 0.76, "paper"),
        ("ellipse", 0.28, 0.37, 0.72, 0.68, "ink"),
    ],
    "board": [
        ("rrect", 0.10, 0.22, 0.76, 0.86, "ink"),
        ("rrect", 0.74, 0.46, 0.96, 0.62, "ink"),
        ("ellipse", 0.86, 0.50, 0.92, 0.58, "paper"),
        ("rect", 0.18, 0.30, 0.68, 0.33, "accent"),
    ],
    "carafe": [
        ("ellipse", 0.22, 0.40, 0.78, 0.95, "accent"),
        ("rect", 0.42, 0.12, 0.58, 0.50, "accent"),
        ("rect", 0.39, 0.08, 0.61, 0.14, "ink"),
        ("rect", 0.28, 0.66, 0.72, 0.70, "paper"),
    ],
    "cushion": [
        (
            "poly",
            (
                (0.10, 0.15),
                (0.50, 0.22),
                (0.90, 0.15),
                (0.84, 0.52),
                (0.90, 0.88),
                (0.50, 0.81),
                (0.10, 0.88),
                (0.16, 0.52),
            ),
            "accent",
        ),
        ("ellipse", 0.46, 0.48, 0.54, 0.56, "ink"),
    ],
    "throw": [
        ("rect", 0.12, 0.12, 0.88, 0.82, "accent"),
        ("rect", 0.12, 0.28, 0.88, 0.33, "ink"),
        ("rect", 0.12, 0.61, 0.88, 0.66, "ink"),
        *[("rect", 0.14 + i * 0.08, 0.82, 0.16 + i * 0.08, 0.92, "ink") for i in range(10)],
    ],
    "towel": [
        ("rrect", 0.15, 0.57, 0.85, 0.77, "ink"),
        ("rrect", 0.18, 0.38, 0.82, 0.58, "accent"),
        ("rrect", 0.21, 0.19, 0.79, 0.39, "ink"),
        ("rect", 0.21, 0.33, 0.79, 0.35, "paper"),
    ],
    "tablecloth": [
        ("rect", 0.10, 0.15, 0.90, 0.85, "paper"),
        *[("rect", 0.14 + i * 0.16, 0.15, 0.20 + i * 0.16, 0.85, "accent") for i in range(5)],
        *[("rect", 0.10, 0.19 + i * 0.16, 0.90, 0.25 + i * 0.16, "accent") for i in range(4)],
    ],
    "notebook": [
        ("rrect", 0.25, 0.08, 0.75, 0.92, "ink"),
        ("rect", 0.64, 0.08, 0.67, 0.92, "accent"),
        ("rect", 0.33, 0.20, 0.58, 0.30, "paper"),
    ],
    "poster": [
        ("rect", 0.18, 0.06, 0.82, 0.94, "ink"),
        ("rect", 0.22, 0.10, 0.78, 0.90, "paper"),
        ("ellipse", 0.55, 0.22, 0.68, 0.35, "accent"),
        ("poly", ((0.22, 0.90), (0.42, 0.50), (0.55, 0.70), (0.65, 0.55), (0.78, 0.90)), "accent"),
    ],
    "printable": [
        ("poly", ((0.25, 0.05), (0.65, 0.05), (0.78, 0.18), (0.78, 0.95), (0.25, 0.95)), "paper"),
        ("poly", ((0.65, 0.05), (0.65, 0.18), (0.78, 0.18)), "accent"),
        *[
            ("rect", 0.32, 0.30 + i * 0.10, 0.71 - (i % 2) * 0.12, 0.32 + i * 0.10, "ink")
            for i in range(6)
        ],
    ],
    "pottery": [
        ("ellipse", 0.15, 0.80, 0.85, 0.95, "ink"),
        (
            "poly",
            (
                (0.38, 0.15),
                (0.62, 0.15),
                (0.58, 0.25),
                (0.72, 0.50),
                (0.64, 0.82),
                (0.36, 0.82),
                (0.28, 0.50),
                (0.42, 0.25),
            ),
            "accent",
        ),
    ],
}
# fmt: on


# The colour of each material (objects are drawn in it; its close-up shows it).
# fmt: off
MATERIAL_COLOURS = {
    "chene": "#b8895a", "noyer": "#6e4b32", "frene": "#d8bf96", "hetre": "#c99e74",
    "rotin": "#c9a36a", "acier": "#4f5d66", "marbre": "#e4e0da", "olivier": "#a88b5c",
    "acacia": "#9c6b3f", "laiton": "#c9a545", "ceramique": "#d9cdb8", "washi": "#efe4cc",
    "gres": "#8f7f6e", "porcelaine": "#eeeae4", "faience": "#e3d3b9", "terre_cuite": "#c0643c",
    "verre_souffle": "#9fc4c0", "verre_recycle": "#86ae92", "lin_lave": "#cbbfa7",
    "coton_bio": "#e9e1d1", "velours": "#7a3b4f", "laine": "#b9a48f", "chanvre": "#a59e7f",
    "nid_abeille": "#e4dccb", "eponge": "#d5e0e3", "papier_recycle": "#d6cfbf",
    "papier_coton": "#f1ebdf", "kraft": "#b48a5a", "toile_lin": "#a8a08a", "cuir": "#8a5a3b",
    "letter": "#f3f0e8", "lyon": "#b5533c", "nantes": "#3f6f8f", "bordeaux": "#7b2d3a",
    "lille": "#c98a2e", "en_ligne": "#4a6b8a",
}
# fmt: on
# How a material's close-up is textured.
TEXTURES = {
    "grain": ("chene", "noyer", "frene", "hetre", "olivier", "acacia"),
    "weave": ("rotin", "lin_lave", "coton_bio", "chanvre", "nid_abeille", "toile_lin", "laine"),
    "brushed": ("acier", "laiton"),
    "veins": ("marbre",),
    "speckle": ("ceramique", "gres", "porcelaine", "faience", "terre_cuite", "cuir", "eponge"),
    "bubbles": ("verre_souffle", "verre_recycle"),
    "fibres": ("washi", "papier_recycle", "papier_coton", "kraft", "letter", "velours"),
}
TEXTURE_OF = {name: texture for texture, names in TEXTURES.items() for name in names}


def draw_picture(key: PictureKey) -> bytes:
    """A 1600×1200 JPEG, the same for the same key: no text, no watermark, no monogram.

    ``product``: the family's silhouette drawn with the product's own proportions, colours
    and angle, in a setting of its own (backdrop, floor line, light); ``material``: a
    close-up of the material; ``room``: three families of a top category side by side.
    """
    kind, name, seed = key
    if kind == "product":
        family, material = name.split("/", 1)
        picture = _product_picture(FAMILY[family], material, seed)
    elif kind == "material":
        picture = _material_picture(name)
    else:
        picture = _room_picture(name)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, int(c))):02x}" for c in rgb)


def _shade(colour: str, factor: float) -> str:
    """Darker (factor < 1) or towards white (factor > 1)."""
    r, g, b = ImageColor.getrgb(colour)[:3]
    if factor <= 1:
        return _hex((r * factor, g * factor, b * factor))
    mix = min(1.0, factor - 1)
    return _hex((r + (255 - r) * mix, g + (255 - g) * mix, b + (255 - b) * mix))


def _soft(rng: random.Random, lightness: float) -> str:
    """A quiet background colour: any hue, little saturation."""
    hue = rng.random()
    sat = rng.uniform(0.12, 0.32)
    return _hex(tuple(c * 255 for c in colorsys.hls_to_rgb(hue, lightness, sat)))


def _product_picture(family: Family, material: str, seed: int) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311  (a drawing, no secret)
    width, height = PICTURE_SIZE
    top, bottom = _soft(rng, rng.uniform(0.86, 0.94)), _soft(rng, rng.uniform(0.70, 0.82))
    picture = _gradient(top, bottom, horizontal=rng.random() < 0.3)
    draw = ImageDraw.Draw(picture)
    # the setting: a floor line at its own height, sometimes a backdrop arch or a disc
    floor = int(height * rng.uniform(0.72, 0.86))
    draw.rectangle((0, floor, width, height), fill=_shade(bottom, rng.uniform(0.82, 0.92)))
    backdrop = rng.choice(("arch", "disc", "panel", "none"))
    tone = _shade(top, rng.uniform(1.1, 1.35))
    cx = width * rng.uniform(0.38, 0.62)
    if backdrop == "arch":
        w = width * rng.uniform(0.16, 0.24)
        top_y = height * rng.uniform(0.06, 0.16)
        draw.ellipse((cx - w, top_y, cx + w, top_y + 2 * w), fill=tone)
        draw.rectangle((cx - w, top_y + w, cx + w, floor), fill=tone)
    elif backdrop == "disc":
        r = height * rng.uniform(0.28, 0.38)
        cy = height * rng.uniform(0.35, 0.5)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tone)
    elif backdrop == "panel":
        x = width * rng.uniform(0.05, 0.55)
        draw.rectangle((x, 0, x + width * rng.uniform(0.25, 0.4), floor), fill=tone)
    # the object: its material's colour (varied), an ink of its own, its own proportions
    base = MATERIAL_COLOURS.get(material) or _soft(rng, 0.5)
    accent = _shade(base, rng.uniform(0.8, 1.2))
    ink = (
        _shade(_soft(rng, 0.3), rng.uniform(0.6, 1.0))
        if rng.random() < 0.5
        else _shade(base, rng.uniform(0.35, 0.55))
    )
    colours = {"ink": ink, "accent": accent, "paper": _shade(base, 1.55)}
    if rng.random() < 0.35:
        colours["ink"], colours["accent"] = colours["accent"], colours["ink"]
    size = int(height * rng.uniform(0.58, 0.74))
    stretch_x, stretch_y = rng.uniform(0.78, 1.2), rng.uniform(0.82, 1.18)
    box_w, box_h = int(size * stretch_x), int(size * stretch_y)
    if box_h > floor - 160:  # the whole object stays in the picture
        box_w, box_h = int(box_w * (floor - 160) / box_h), floor - 160
    x = int(width * rng.uniform(0.3, 0.7) - box_w / 2)
    y = floor - box_h + int(rng.uniform(0.05, 0.09) * box_h)  # feet on the floor
    shape = _jitter(SHAPES[family.shape], rng)
    mirror = rng.random() < 0.5
    angle = math.radians(rng.uniform(-8, 8))
    _shadow(picture, (x, y, x + box_w, floor), bottom)
    _silhouette(draw, shape, (x, y, x + box_w, y + box_h), colours, angle=angle, mirror=mirror)
    return picture


def _jitter(shape: list[tuple[Any, ...]], rng: random.Random) -> list[tuple[Any, ...]]:
    """The same silhouette with each part a little moved and resized (at most 2.5 %)."""

    def nudge(value: float) -> float:
        return min(1.0, max(0.0, value + rng.uniform(-0.025, 0.025)))

    out = []
    for primitive, *args in shape:
        if primitive == "poly":
            out.append((primitive, tuple((nudge(u), nudge(v)) for u, v in args[0]), args[-1]))
        else:
            x0, y0, x1, y1 = (nudge(c) for c in args[:4])
            out.append((primitive, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), args[-1]))
    return out


def _material_picture(name: str) -> Image.Image:
    """A close-up: the material's colour filling the frame, textured as it would be."""
    rng = random.Random(zlib.crc32(name.encode()))  # noqa: S311
    base = MATERIAL_COLOURS.get(name, "#b8895a")
    width, height = PICTURE_SIZE
    picture = _gradient(_shade(base, 1.12), _shade(base, 0.88), horizontal=True)
    draw = ImageDraw.Draw(picture)
    texture = TEXTURE_OF.get(name, "speckle")
    dark, light = _shade(base, 0.72), _shade(base, 1.25)
    if texture == "grain":
        y = 0.0
        while y < height:
            y += rng.uniform(10, 34)
            amp, freq, phase = rng.uniform(4, 22), rng.uniform(0.002, 0.006), rng.uniform(0, 6)
            points = [(x, y + amp * math.sin(x * freq + phase)) for x in range(0, width + 40, 40)]
            draw.line(points, fill=dark if rng.random() < 0.6 else light, width=rng.randint(2, 5))
    elif texture == "weave":
        step = rng.randint(36, 60)
        for i in range(0, width, step):
            draw.rectangle((i, 0, i + step // 2, height), fill=dark)
        for j in range(0, height, step):
            for i in range(0, width, step * 2):
                offset = step if (j // step) % 2 else 0
                draw.rectangle((i + offset, j, i + offset + step // 2, j + step // 2), fill=light)
    elif texture == "brushed":
        for y in range(0, height, 3):
            if rng.random() < 0.5:
                draw.line((0, y, width, y), fill=dark if rng.random() < 0.5 else light)
    elif texture == "veins":
        for _ in range(9):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            points = []
            for _ in range(14):
                points.append((x, y))
                x, y = x + rng.uniform(40, 140), y + rng.uniform(-80, 80)
            draw.line(points, fill=_shade(base, 0.6), width=rng.randint(2, 6))
    elif texture == "bubbles":
        for _ in range(70):
            r = rng.uniform(6, 40)
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=light, width=3)
    elif texture == "fibres":
        for _ in range(900):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            a = rng.uniform(0, math.pi)
            length = rng.uniform(8, 30)
            end = (x + length * math.cos(a), y + length * math.sin(a))
            draw.line(((x, y), end), fill=dark if rng.random() < 0.5 else light, width=2)
    else:  # speckle
        for _ in range(1600):
            r = rng.uniform(1.5, 5)
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=dark if rng.random() < 0.7 else light)
    return picture


def _room_picture(parent: str) -> Image.Image:
    """Three families of a top category side by side, on a shelf of the room."""
    families = [f for f in FAMILIES if f.parent == parent][:3]
    top, bottom, ink, accent, paper = PALETTES[parent][0]
    picture = _gradient(top, bottom, horizontal=False)
    draw = ImageDraw.Draw(picture)
    width, height = PICTURE_SIZE
    draw.rectangle((0, 800, width, height), fill=_shade(bottom, 0.88))
    colours = {"ink": ink, "accent": accent, "paper": paper}
    boxes = [(140 + i * 460, 380, 560 + i * 460, 800) for i in range(len(families))]
    for box, family in zip(boxes, families, strict=False):
        _shadow(picture, box, bottom)
        _silhouette(ImageDraw.Draw(picture), SHAPES[family.shape], box, colours)
    return picture


def _gradient(top: str, bottom: str, *, horizontal: bool) -> Image.Image:
    """Drawn in 4-pixel bands (a resized gradient image costs far more)."""
    width, height = PICTURE_SIZE
    start, end = ImageColor.getrgb(top)[:3], ImageColor.getrgb(bottom)[:3]
    picture = Image.new("RGB", PICTURE_SIZE, top)
    draw = ImageDraw.Draw(picture)
    steps = width if horizontal else height
    for i in range(0, steps, 4):
        t = i / steps
        colour = tuple(int(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        band = (i, 0, i + 3, height) if horizontal else (0, i, width, i + 3)
        draw.rectangle(band, fill=colour)
    return picture


def _shadow(picture: Image.Image, box: tuple[int, int, int, int], colour: str) -> None:
    """A blurred ellipse under the object, drawn small and scaled up (blurring is costly),
    over the object's width only."""
    scale, pad = 8, 64
    x0, _, x1, y1 = box
    region = (int(x0) - pad, int(y1) - pad, int(x1) + pad, int(y1) + pad)
    width, height = region[2] - region[0], region[3] - region[1]
    small = Image.new("L", (max(1, width // scale), max(1, height // scale)), 0)
    middle = pad // scale
    ImageDraw.Draw(small).ellipse((middle, middle - 4, small.width - middle, middle + 4), fill=110)
    mask = small.filter(ImageFilter.GaussianBlur(5)).resize((width, height))
    dark = tuple(int(channel * 0.55) for channel in ImageColor.getrgb(colour))
    picture.paste(dark, region, mask)


def _silhouette(
    draw: ImageDraw.ImageDraw,
    shape: list[tuple[Any, ...]],
    box: tuple[int, int, int, int],
    colours: dict[str, str],
    *,
    angle: float = 0.0,
    mirror: bool = False,
) -> None:
    """Draw ``shape`` (unit-box coordinates) into ``box``; turned by ``angle`` (radians)
    about the box's foot and mirrored if asked: the parts become polygons, so turning costs
    nothing (a rotated bitmap layer cost more than the rest of the picture)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = x0 + w / 2, y1
    cos, sin = math.cos(angle), math.sin(angle)

    def at(u: float, v: float) -> tuple[float, float]:
        if mirror:
            u = 1 - u
        px, py = x0 + u * w - cx, y0 + v * h - cy
        return cx + px * cos - py * sin, cy + px * sin + py * cos

    for primitive, *args in shape:
        fill = colours[args[-1]]
        if primitive == "poly":
            draw.polygon([at(u, v) for u, v in args[0]], fill=fill)
            continue
        u0, v0, u1, v1 = args[:4]
        if primitive in ("rect", "rrect"):
            draw.polygon([at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)], fill=fill)
            continue
        mid_u, mid_v, ru, rv = (u0 + u1) / 2, (v0 + v1) / 2, (u1 - u0) / 2, (v1 - v0) / 2
        outline = [
            at(mid_u + ru * math.cos(t), mid_v + rv * math.sin(t))
            for t in (2 * math.pi * k / 48 for k in range(48))
        ]
        if primitive == "ellipse":
            draw.polygon(outline, fill=fill)
        elif primitive == "ring":
            draw.line([*outline, outline[0]], fill=fill, width=max(4, int(w * 0.04)))
