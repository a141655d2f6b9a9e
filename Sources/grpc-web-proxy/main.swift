print("grpc-web-proxy")
