//! The seed's story in headless Chromium (filled in below).
