"""The thesis Transformer: model, training protocol and tracing of the token trajectory.

The model is the keras "Timeseries classification with a Transformer model" encoder that the
thesis used, with the classification head applied to every token (Quadrio & Candelieri, 2025).
Training follows the thesis protocol (token-wise cross-entropy, RMSprop, full batch, early
stopping restoring the best weights) except that validation data never comes from the test set
by default, and the model is trained and traced on the same standardized inputs (the thesis
code trained on raw and traced on standardized inputs; this module does not reproduce that
defect).

Tracing records, in inference mode after every epoch, every block's output after
attention+residual and after feed-forward+residual, and the attention logits of every head: the
material for the thesis's OT metrics and for comparing attention with a Sinkhorn plan
(Sander et al., *Sinkformers*, AISTATS 2022).

The package has one module per topic; every public name below is importable from
``otcompanion.attention`` itself:

- :mod:`otcompanion.attention.layers`: keras's initialisers, :func:`dropout_noise`,
  :class:`Dropout` and the optimizer :class:`KerasRMSprop`;
- :mod:`otcompanion.attention.self_attention`: :class:`MultiHeadSelfAttention` and its factored
  computation;
- :mod:`otcompanion.attention.transformer`: :class:`EncoderBlock`, :class:`ThesisTransformer`,
  the training (:func:`train_transformer`, :class:`TransformerFit`) and the scikit-learn
  estimator :class:`TransformerClassifier`, and :func:`layer_norm_jacobians`;
- :mod:`otcompanion.attention.trace`: :class:`Trace` and :class:`ForwardTrace`.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- A. Vaswani et al. *Attention is all you need*. NeurIPS 2017 (multi-head attention).
- keras.io example "Timeseries classification with a Transformer model" (T. Ntakouris),
  the encoder block of the thesis; keras ``MultiHeadAttention``, ``LayerNormalization``,
  ``RMSprop`` and ``EarlyStopping`` for the defaults matched here.
"""

from .layers import Dropout, KerasRMSprop, dropout_noise
from .self_attention import MultiHeadSelfAttention
from .trace import TRACE_FORMAT_VERSION, TRAJECTORY_STARTS, ForwardTrace, Trace
from .transformer import (
    HISTORY_COLUMNS,
    LAYER_NORM_EPS,
    OPTIMIZERS,
    EncoderBlock,
    ThesisTransformer,
    TransformerClassifier,
    TransformerFit,
    layer_norm_jacobians,
    train_transformer,
)

__all__ = ["HISTORY_COLUMNS", "LAYER_NORM_EPS", "OPTIMIZERS", "TRACE_FORMAT_VERSION",
           "TRAJECTORY_STARTS", "Dropout", "EncoderBlock", "ForwardTrace", "KerasRMSprop",
           "MultiHeadSelfAttention", "ThesisTransformer", "Trace", "TransformerClassifier",
           "TransformerFit", "dropout_noise", "layer_norm_jacobians",
           "train_transformer"]
