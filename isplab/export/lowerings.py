"""litert-torch lowerings for isplab's custom torch ops (imported only when converting).

``isplab::depth_to_space_nhwc`` (see :func:`isplab.models.ops.depth_to_space`) becomes TFLite's builtin
``DEPTH_TO_SPACE``; ``isplab::prelu_nhwc`` (see :class:`isplab.export.wrapper.ExportPReLU`) becomes
``PRELU``. litert-torch carries TFLite ops through StableHLO as a ``custom_call`` whose target
is the ``tfl.*`` op name and whose ``backend_config`` holds the attributes (the same carrier its own
``torch.ops.tfl.*`` ops use); the converter legalises it to the builtin.
"""

from __future__ import annotations

_registered = False


def register_lowerings() -> None:
    """Register the lowerings with litert-torch's global registry (idempotent)."""
    global _registered
    if _registered:
        return
    import torch
    from litert_converter.mlir import ir
    from litert_converter.mlir.dialects import stablehlo
    from litert_torch.backend.lowerings import registry
    from litert_torch.backend.lowerings import utils as lowering_utils

    import isplab.export.wrapper  # noqa: F401  (defines torch.ops.isplab.prelu_nhwc)
    import isplab.models.ops  # noqa: F401  (defines torch.ops.isplab.depth_to_space_nhwc)

    @registry.lower(torch.ops.isplab.depth_to_space_nhwc.default)
    def _depth_to_space(lctx, x, block: int):
        attrs = ir.DictAttr.get({"block_size": ir.IntegerAttr.get(ir.IntegerType.get_signless(32), block)})
        return stablehlo.custom_call(
            result=lowering_utils.node_meta_to_ir_types(lctx.node),
            inputs=[x],
            call_target_name=ir.StringAttr.get("tfl.depth_to_space"),
            has_side_effect=ir.BoolAttr.get(False),
            backend_config=ir.StringAttr.get(str(attrs)),
        )

    @registry.lower(torch.ops.isplab.prelu_nhwc.default)
    def _prelu(lctx, x, alpha):
        # TFLite PRELU: inputs (input, alpha), alpha broadcast against input; no attributes.
        return stablehlo.custom_call(
            result=lowering_utils.node_meta_to_ir_types(lctx.node),
            inputs=[x, alpha],
            call_target_name=ir.StringAttr.get("tfl.prelu"),
            has_side_effect=ir.BoolAttr.get(False),
            backend_config=ir.StringAttr.get(str(ir.DictAttr.get({}))),
        )

    _registered = True
