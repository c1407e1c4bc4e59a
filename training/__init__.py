"""PatchFace's model recipe: face-api's networks converted to ONNX, and the RRF students distilled,
refitted, given their constant coordinate and exported. Run each step from the repository root as
``python3 -m training.<script>`` (training/README.md)."""
