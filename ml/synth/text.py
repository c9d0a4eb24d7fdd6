"""Ad copy from phrase banks, driven by a latent tone and emotion per ad.

The generator decides each ad's tone (-1 negative, 0 neutral, +1 positive), dominant
emotion and length class first; the copy is then assembled from phrases that carry that
tone and emotion.  Performance depends on the latents, so a feature pipeline has to
recover them from the words alone (it never sees the latents).
"""

from __future__ import annotations

import numpy as np

EMOTIONS = ("none", "joy", "surprise", "fear", "anger", "sadness")
LENGTH_CLASSES = ("short", "medium", "long")

PRODUCTS: dict[str, tuple[str, ...]] = {
    "fashion": ("sneakers", "summer dresses", "denim jackets", "linen shirts", "handbags"),
    "home": ("sofas", "bedding", "kitchen knives", "desk lamps", "rugs"),
    "apps": ("budget planner app", "language app", "photo editor", "meditation app", "habit tracker"),
    "finance": ("savings account", "credit card", "investing app", "small business loan", "travel insurance"),
    "travel": ("city breaks", "beach resorts", "weekend getaways", "ski trips", "flight deals"),
    "education": ("coding bootcamp", "online MBA", "design course", "data science course", "tutoring"),
    "health": ("protein bars", "running shoes", "yoga classes", "vitamin packs", "home gym kit"),
    "food": ("meal kits", "grocery delivery", "coffee subscription", "healthy snacks", "pizza delivery"),
}
VERTICALS = tuple(PRODUCTS)

BRANDS = (
    "Northwind",
    "Bluebird",
    "Acme",
    "Lumen",
    "Oakridge",
    "Brightside",
    "Nimbus",
    "Harbor",
    "Everleaf",
    "Kestrel",
    "Solace",
    "Verve",
    "Pinecrest",
    "Atlas",
    "Marigold",
    "Cobalt",
)

# Headlines carry the dominant emotion; {p} is the product, {b} the brand.
HEADLINES: dict[str, tuple[str, ...]] = {
    "none": (
        "{b} {p}",
        "New {p} from {b}",
        "{p} by {b}",
        "Shop {p} at {b}",
        "{b}: {p} for every day",
        "The {p} collection",
        "{p}, delivered",
        "Meet the {b} {p}",
    ),
    "joy": (
        "Fall in love with our {p}",
        "Happy days start with {b} {p}",
        "Smile more with {b}",
        "The {p} you will adore",
        "Pure delight: {b} {p}",
        "Celebrate with wonderful {p}",
        "Joyful {p} for the whole family",
        "Brighten your week with {p}",
    ),
    "surprise": (
        "You won't believe these {p}",
        "Wow! {p} at unexpected prices",
        "Surprise: {p} just dropped",
        "Unbelievable {p} from {b}",
        "Guess what's new at {b}?",
        "Amazing {p} revealed",
        "Whoa, {p} like never before",
        "The secret {p} everyone is talking about",
    ),
    "fear": (
        "Don't miss out on {p}",
        "Last chance: {p} almost gone",
        "Worried your {p} won't last?",
        "Risk-free {p} before it's too late",
        "Only hours left for {p}",
        "Don't get left behind",
        "Stock is running out on {p}",
        "Avoid the panic: book {p} now",
    ),
    "anger": (
        "Tired of overpaying for {p}?",
        "Stop wasting money on bad {p}",
        "Fed up with terrible {p}?",
        "Enough with overpriced {p}",
        "Sick of {p} that break?",
        "Hate hidden fees? Try {b}",
        "No more awful {p}",
        "Frustrated with your {p}?",
    ),
    "sadness": (
        "Missing the {p} you loved?",
        "Feeling lonely? {b} can help",
        "Don't let {p} make you sad",
        "Lost your favourite {p}?",
        "When {p} lets you down",
        "Miss the good old {p}?",
        "Gloomy weeks call for {p}",
        "Heartbroken by cheap {p}?",
    ),
}

# Body sentences by tone.
POSITIVE = (
    "Customers love how easy it is.",
    "Rated excellent by thousands of happy buyers.",
    "It's the best decision you'll make this year.",
    "Enjoy beautiful quality at a great price.",
    "Our team is proud to bring you something wonderful.",
    "Feel fantastic every single day.",
    "Perfect for anyone who wants to treat themselves.",
    "Join a community that truly cares.",
    "You'll be glad you did.",
    "Made with love and brilliant craftsmanship.",
)
NEGATIVE = (
    "Cheap alternatives fail when you need them most.",
    "Don't settle for poor quality again.",
    "Bad choices cost you more in the long run.",
    "Waiting means losing the best deals.",
    "Most competitors ignore your problems.",
    "Stop struggling with broken promises.",
    "Hidden fees are a terrible surprise.",
    "Regret is worse than trying.",
    "The wrong choice can ruin your week.",
    "Nobody likes wasting time on useless products.",
)
NEUTRAL = (
    "Free shipping on orders over $50.",
    "Available in 12 colors and 5 sizes.",
    "Order online and pick up in store.",
    "Plans start at $9 per month.",
    "Delivery within 3 to 5 business days.",
    "Cancel anytime from your account.",
    "Made in Portugal from organic cotton.",
    "Compare plans on our website.",
    "Save 20% with code WELCOME20.",
    "Ships to over 40 countries.",
    "Includes a 30-day return window.",
    "Open Monday to Saturday, 9am to 6pm.",
    "Crème brûlée flavour now in café sizes.",
    "Our team's picks, hand-checked & packed.",
)
EMOJI = {"none": "", "joy": " 😍", "surprise": " 😮", "fear": " ⏰", "anger": " 😤", "sadness": " 😢"}


def compose_copy(
    rng: np.random.Generator,
    verticals: np.ndarray,
    tone: np.ndarray,
    emotion: np.ndarray,
    length_class: np.ndarray,
    emoji_prob: np.ndarray,
) -> tuple[list[str], list[str]]:
    """Return (headlines, bodies) for ads with the given latent tone, emotion and length."""
    headlines: list[str] = []
    bodies: list[str] = []
    n_sentences = {"short": (1, 2), "medium": (3, 4), "long": (5, 7)}
    for i in range(len(verticals)):
        product = PRODUCTS[verticals[i]][rng.integers(len(PRODUCTS[verticals[i]]))]
        brand = BRANDS[rng.integers(len(BRANDS))]
        emo = str(emotion[i])
        head = HEADLINES[emo][rng.integers(len(HEADLINES[emo]))].format(p=product, b=brand)
        head = head[0].upper() + head[1:]
        if rng.random() < emoji_prob[i]:
            head += EMOJI[emo]
        lo, hi = n_sentences[str(length_class[i])]
        k = int(rng.integers(lo, hi + 1))
        # Tone decides the share of charged sentences; the rest are neutral facts.
        charged = POSITIVE if tone[i] > 0 else NEGATIVE if tone[i] < 0 else ()
        n_charged = int(rng.binomial(k, 0.7)) if charged else 0
        parts = [charged[j] for j in rng.choice(len(charged), n_charged, replace=False)]
        parts += [NEUTRAL[j] for j in rng.choice(len(NEUTRAL), k - n_charged, replace=False)]
        parts = [parts[j] for j in rng.permutation(k)]
        headlines.append(head)
        bodies.append(" ".join(parts))
    return headlines, bodies
