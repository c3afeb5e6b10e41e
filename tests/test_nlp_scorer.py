"""The real shipped model (no mocks): clear cases, determinism, bad inputs, corrupt files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flushwatch.errors import ConfigError, ModelError
from flushwatch.nlp.scorer import MODES, Scorer, shipped_model_dir


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(mode="fast")


def test_clear_headlines_get_the_obvious_sentiment(scorer: Scorer) -> None:
    bearish = "Shares plunge after the company slashes its outlook and misses earnings"
    bullish = "Stock soars after record quarterly profit beats estimates and guidance is raised"
    bear, bull = scorer.score_texts([bearish, bullish])
    assert bear.sentiment == "bearish" and bear.sentiment_score < -0.5
    assert bull.sentiment == "bullish" and bull.sentiment_score > 0.5
    for s in (bear, bull):
        assert abs(s.p_bearish + s.p_neutral + s.p_bullish - 1.0) < 1e-4
        assert -1.0 <= s.sentiment_score <= 1.0


def test_scores_are_deterministic_and_independent_of_batch_order(scorer: Scorer) -> None:
    titles = ["Exchange halts withdrawals", "Fed holds rates", "Token listed on a new venue", "ETH up 4%"]
    once = scorer.score_texts(titles)
    again = scorer.score_texts(list(reversed(titles)))[::-1]
    assert once == scorer.score_texts(titles)
    for a, b in zip(once, again, strict=True):
        assert a.sentiment == b.sentiment and abs(a.sentiment_score - b.sentiment_score) < 1e-3


@pytest.mark.parametrize("mode", ["torch-int8", "bf16", "int8"])
def test_two_inference_modes_and_no_other(mode: str) -> None:
    """The fast default and its fp32 reference; a mode that is not one of them is refused
    before any model is loaded, naming the two."""
    assert MODES == ("fast", "full")
    with pytest.raises(ConfigError, match="choose one of fast, full"):
        Scorer(mode=mode)


def test_bad_inputs_score_without_crashing(scorer: Scorer) -> None:
    long = "bitcoin " * 2000
    titles = [
        "",
        "   ",
        "🚀🚀🚀🔥",
        "\x00\x01\ufffd###",
        "Bitcoin cae un 10% tras la decisión de la Fed",
        long,
        "比特币暴跌",
    ]
    out = scorer.score_texts(titles)
    assert len(out) == len(titles)
    flags = [set(s.flags) for s in out]
    assert "empty" in flags[0] and "empty" in flags[1]
    assert "no_letters" in flags[2]
    assert "non_english" in flags[4] and "non_english" in flags[6]
    assert "truncated" in flags[5]
    for s in out:
        assert s.sentiment in ("bearish", "neutral", "bullish")


def test_corrupt_adapter_is_refused_naming_the_path(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    weights = copy / "adapter.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match=str(weights)):
        Scorer(str(copy))


def test_corrupt_lexical_head_is_refused_naming_the_path(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    lexical = copy / "lexical.safetensors"
    lexical.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelError, match=str(lexical)):
        Scorer(str(copy))


def test_missing_adapter_is_refused_naming_the_path(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    (copy / "adapter.safetensors").rename(copy / "adapter.safetensors.bak")
    with pytest.raises(ModelError, match=r"adapter\.safetensors"):
        Scorer(str(copy))


@pytest.mark.parametrize("mode", ["full", "fast"])  # torch loads the merge; the fast path builds from it
@pytest.mark.parametrize("damage", ["drop a scale", "wrong shape", "foreign tensor"])
def test_a_delta_that_does_not_fit_the_network_is_refused(tmp_path: Path, damage: str, mode: str) -> None:
    """Readable safetensors whose tensors do not fit MiniLM: one ModelError naming the file."""
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    weights = copy / "adapter.safetensors"
    state = load_file(str(weights))
    key = next(k for k in sorted(state) if k.endswith(".du"))
    if damage == "drop a scale":
        del state[key + "_scale"]
    elif damage == "wrong shape":
        state[key] = state[key][:, :1].contiguous()
    else:
        state["encoder.not_a_layer.weight.delta"] = torch.zeros(3)
    save_file(state, str(weights))
    with pytest.raises(ModelError, match=r"do not fit the network") as err:
        Scorer(str(copy), mode=mode)
    assert str(weights) in str(err.value)


def test_corrupt_base_weights_are_refused_naming_the_path(tmp_path: Path) -> None:
    from flushwatch.nlp.base import base_model_dir, verify_base

    verify_base(base_model_dir())  # the installed file is the published one
    fake = tmp_path / "base"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"not the published weights")
    with pytest.raises(ModelError, match=str(fake / "model.safetensors")):
        verify_base(fake)
    with pytest.raises(ModelError, match="missing"):
        verify_base(tmp_path)


def test_plain_torch_encoder_matches_hugging_face_bert() -> None:
    """Scoring uses nlp/minilm.py (no transformers import); it must equal HF's BertModel."""
    import torch

    from flushwatch.nlp.base import FastTokenizer, base_config, base_model_dir
    from flushwatch.nlp.encoder import load_base
    from flushwatch.nlp.merge import base_weights
    from flushwatch.nlp.minilm import MiniLM

    tok, hf = load_base()
    ours = MiniLM(base_config(base_model_dir()))
    weights = base_weights(base_model_dir())
    encoder = {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    ours.load_state_dict({k: torch.from_numpy(v) for k, v in encoder.items()}, strict=True)
    texts = ["Exchange halts withdrawals after a hack", "ok", "Le bitcoin chute 🚀 $BTC"]
    assert FastTokenizer(base_model_dir() / "tokenizer.json")(texts)["input_ids"] == tok(texts)["input_ids"]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        a = hf.eval()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        b = ours(enc["input_ids"], enc["attention_mask"]).last_hidden_state
    mask = enc["attention_mask"].bool()
    assert float((a - b)[mask].abs().max()) < 1e-4
