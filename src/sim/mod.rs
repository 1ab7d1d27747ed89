//! privatelink-sim: a wire-compatible simulator of the Alibaba Cloud PrivateLink OpenAPI.
