"""adscore's emotion lexicon: English words (lower case, inflected forms listed) per emotion.

Written for this project from general English usage and licensed with it (no third-party
lexicon: the NRC Emotion Lexicon and WordNet-Affect are research-only). It is deliberately
small and general; it was not derived from the demo generator's phrase banks. Bump
``LEXICON_VERSION`` on any change: it is part of the text-feature cache key.
"""

from __future__ import annotations

LEXICON_VERSION = "adscore-emotions-1"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


EMOTION_WORDS: dict[str, frozenset[str]] = {
    "joy": _words(
        "joy joyful joyous happy happier happiest happiness delight delighted delightful glad "
        "cheerful cheer cheers smile smiles smiling laugh laughing fun love loved loving lovely "
        "enjoy enjoyed enjoying enjoyable celebrate celebrating celebration wonderful amazing "
        "awesome fantastic great brilliant beautiful bliss blissful thrilled thrilling excited "
        "exciting yay hooray perfect pleasure pleased proud treat sunshine favourite favorite "
        "win winning best paradise dream dreamy"
    ),
    "sadness": _words(
        "sad sadly sadness unhappy sorrow sorry grief grieve grieving miss missed missing lonely "
        "loneliness alone cry crying tears tearful heartbroken heartbreak depressed depressing "
        "gloomy gloom miserable misery regret regrets disappointed disappointing disappointment "
        "loss lose losing lost hopeless despair down hurt hurting painful goodbye farewell "
        "empty mourn tired struggle struggling"
    ),
    "anger": _words(
        "angry anger mad furious fury rage outraged outrage annoyed annoying irritated "
        "irritating frustrated frustrating frustration hate hated hates sick fed ridiculous "
        "unacceptable enough scam ripoff rip overpriced unfair cheated greedy hidden fees "
        "fed-up stop wasting waste wasted tired insult insulting nonsense rant"
    ),
    "fear": _words(
        "fear afraid scared scary frightened frightening terrified terror panic worry worried "
        "worrying anxious anxiety nervous risk risky danger dangerous threat threatened unsafe "
        "warning alarm alarming dread uncertain uncertainty vulnerable exposed hack hacked "
        "fraud crisis emergency before late deadline miss"
    ),
    "surprise": _words(
        "surprise surprised surprising surprisingly wow whoa unexpected unexpectedly suddenly "
        "sudden astonishing astonished amazing amazed incredible unbelievable shocking shocked "
        "stunning stunned reveal revealed secret mystery guess imagine finally introducing "
        "new brand-new just launched omg"
    ),
}
