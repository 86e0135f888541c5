"""A task that learns in every step: answer a topic prompt in as few words as possible.

The reward is continuous in the answer's word count, so the ``G`` samples of a prompt almost
never tie at temperature 1.0 and every group trains (GSM8K on SmolLM2 mostly ties at 0; see
issue 19). The prompt asks for one sentence: asked only "Tell me about {topic}.", SmolLM2-135M-
Instruct ran into the 48-token limit on 32 of 32 validation topics (greedy; validation reward
0.025, so every sample scored about the same). Asked for one sentence it ends on its own on 31
of 32, in about 21 words (reward 0.47), which leaves it room to learn shorter sentences.
"""

from __future__ import annotations

from typing import Any

WORD_BUDGET = 40  # a reply of this many words or more scores 0
PROMPT = "Tell me about {topic} in one sentence."

TRAIN_TOPICS = (
    "photosynthesis", "volcanoes", "the moon", "honey bees", "the Roman Empire", "glaciers",
    "black holes", "coffee", "the printing press", "coral reefs", "electric cars", "penguins",
    "the internet", "earthquakes", "chess", "the Great Wall of China", "rainbows", "vaccines",
    "the Amazon rainforest", "jazz", "solar panels", "tornadoes", "the human heart", "origami",
    "the Eiffel Tower", "dinosaurs", "recycling", "the Olympic Games", "sharks", "bread",
    "the Sahara desert", "telescopes", "wind turbines", "the Renaissance", "octopuses", "tea",
    "the Pacific Ocean", "robots", "the water cycle", "elephants", "the violin", "comets",
    "the Nile", "bicycles", "mushrooms", "the stock market", "lightning", "pyramids",
    "democracy", "whales", "gravity", "chocolate", "the Arctic", "bridges", "owls", "DNA",
    "the piano", "hurricanes", "maps", "tigers", "the Moon landing", "cheese", "satellites",
    "butterflies",
)  # fmt: skip
VALID_TOPICS = (
    "rivers", "submarines", "the sun", "ants", "castles", "clouds", "libraries", "wolves",
    "trains", "deserts", "bamboo", "rockets", "tulips", "the ocean floor", "dolphins", "paper",
    "snow", "airplanes", "spiders", "islands", "the brain", "candles", "frogs", "mountains",
    "clocks", "rice", "eagles", "the wheel", "caves", "kites", "salt", "horses",
)  # fmt: skip


def topic_row(topic: str) -> dict[str, Any]:
    """A Bedrock-shaped row: ``{"messages": [{"role": "user", ...}], "topic": topic}``."""
    return {"messages": [{"role": "user", "content": PROMPT.format(topic=topic)}], "topic": topic}


def train_rows(steps: int, per_step: int) -> list[dict[str, Any]]:
    """``steps × per_step`` rows cycling through the training topics in order."""
    return [topic_row(TRAIN_TOPICS[i % len(TRAIN_TOPICS)]) for i in range(steps * per_step)]


def valid_rows() -> list[dict[str, Any]]:
    """The held-out topics, one row each."""
    return [topic_row(topic) for topic in VALID_TOPICS]


def brevity_reward(completion: str) -> float:
    """``1 − words / WORD_BUDGET`` floored at 0 (0 at 40+ words), and 0 for an empty reply."""
    words = len(completion.split())
    return max(0.0, 1.0 - words / WORD_BUDGET) if words else 0.0
