"""The optional C engines of the built-in models (docs/scale.md, "Native engines").

Everything else is in pyproject.toml.  Every extension is optional: without a C compiler
(or Python's headers) the build goes on without them and the Python models run every case
(``zbench plugins`` says which).
"""

from setuptools import Extension, setup

#: zbench_sized.h: the C face of an allocator's engine (zbench/api/sized.py)
INCLUDE = ["zbench/include"]
HEADERS = ["zbench/include/zbench_sized.h", "zbench/include/zbench_util.h"]

setup(ext_modules=[
    # zs_malloc / zs_free placement with the state in C (plugins/zbench_zsmalloc/native.py)
    Extension("zbench_zsmalloc._native", ["plugins/zbench_zsmalloc/_native.c",
                                          "plugins/zbench_zsmalloc/zspool.c",
                                          "plugins/zbench_zsmalloc/zscompact.c"],
              include_dirs=INCLUDE, depends=[*HEADERS, "plugins/zbench_zsmalloc/zspool.h"],
              extra_compile_args=["-O2"], optional=True),
    # zram's write and read paths over a batch (plugins/zbench_zram/sizedbatch.py)
    Extension("zbench_zram._native", ["plugins/zbench_zram/_native.c"],
              include_dirs=INCLUDE, depends=HEADERS, extra_compile_args=["-O2"],
              optional=True),
    # zswap's store, load and shrink paths over a batch (plugins/zbench_zswap/sizedbatch.py)
    Extension("zbench_zswap._native", ["plugins/zbench_zswap/_native.c"],
              include_dirs=INCLUDE, depends=HEADERS, extra_compile_args=["-O2"],
              optional=True),
    # zbud_alloc / zbud_free placement with the state in C (plugins/zbench_zbud/native.py)
    Extension("zbench_zbud._native", ["plugins/zbench_zbud/_native.c"],
              include_dirs=INCLUDE, depends=HEADERS, extra_compile_args=["-O2"],
              optional=True),
    # lz4's C face over python-lz4's own liblz4 (plugins/zbench_compressors/lz4_native.py)
    Extension("zbench_compressors._lz4face", ["plugins/zbench_compressors/_lz4face.c"],
              include_dirs=INCLUDE, depends=HEADERS, extra_compile_args=["-O2"],
              optional=True),
])
