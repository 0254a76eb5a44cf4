"""Tiny real models for the test Hub, written with transformers' save_pretrained."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

__all__ = ["tiny_bert_files", "pickle_only_files", "padding_safetensors"]

_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *[f"tok{i}" for i in range(95)]]


def _read_dir(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def tiny_bert_files(*, seed: int = 0, padding_bytes: int = 0) -> dict[str, bytes]:
    """A two-layer BERT (hidden size 32) saved as safetensors, with a vocab and a model card.

    `padding_bytes` adds `padding.safetensors` of about that size, so that throttled downloads last long
    enough to cancel or kill; transformers ignores the extra file when loading.
    """
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        vocab_size=len(_VOCAB),
    )
    model = BertModel(config)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        files = _read_dir(Path(tmp))
    files["vocab.txt"] = ("\n".join(_VOCAB) + "\n").encode()
    files["tokenizer_config.json"] = json.dumps({"do_lower_case": True, "model_max_length": 512}).encode()
    files["README.md"] = b"---\nlicense: apache-2.0\n---\n# tiny-bert\nA two-layer BERT for tests.\n"
    files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    if padding_bytes:
        files["padding.safetensors"] = padding_safetensors(padding_bytes)
    return files


def padding_safetensors(size: int) -> bytes:
    """A valid safetensors file of about `size` bytes (one float32 tensor of zeros)."""
    import numpy as np
    from safetensors.numpy import save

    return save({"padding": np.zeros(max(1, size // 4), dtype=np.float32)})


def pickle_only_files() -> dict[str, bytes]:
    """A repo whose only weights are a pickle (`pytorch_model.bin`)."""
    import io

    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        vocab_size=len(_VOCAB),
    )
    model = BertModel(config)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return {"config.json": config.to_json_string().encode(), "pytorch_model.bin": buffer.getvalue()}
