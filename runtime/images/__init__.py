"""Images for the runtime: references, a content store, safe layer unpacking, registries, builds.

Layers are unpacked once per diff into content-addressed snapshot directories that every image and
container sharing the layer uses as an overlayfs lowerdir.
"""
