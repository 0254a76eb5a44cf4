"""MLSuite DownloaderService: fetches pretrained Hugging Face Hub models, one at a time, over gRPC."""
