"""face-api's expression network in PyTorch: the shipped weights made fine-tunable (registry kind
`faceapi_finetuned`)."""
