"""face-api's pretrained expression network (ONNX) and the hybrid model kind that combines it with landmarks."""
