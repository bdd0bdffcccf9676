{
  # A checkout links the distribution's libbpf (./dev installs libbpf-dev). The
  # package's prebuilds (scripts/build-prebuilds.sh) set libbpf_static to a
  # pinned libbpf built with -fPIC, and link it, libelf and zlib into the addon,
  # so that it runs on hosts with neither; skel_dir picks the architecture's
  # BPF skeleton.
  "variables": {
    "libbpf_static%": "",
    "skel_dir%": "../bpf/.output"
  },
  "targets": [
    {
      "target_name": "bindsnoop",
      "sources": ["addon.cc", "args.cc", "encoder.cc", "encoder_object.cc", "errors.cc", "handover.cc", "kernel.cc", "loader.cc", "lock.cc", "maps.cc", "options.cc", "pipe.cc", "program.cc", "reader.cc", "tracer.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../bpf",
        "<(skel_dir)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["libbpf_static==''", {
          "libraries": ["-lbpf"]
        }, {
          # the pinned libbpf's headers before the system's, its uapi headers before the old root's
          "cflags_cc": ["-isystem", "<(libbpf_static)/include", "-isystem", "<(libbpf_static)/include/uapi"],
          # the static libraries' symbols stay inside the addon
          "ldflags": ["-Wl,--exclude-libs,ALL", "-Wl,--build-id=sha1"],
          "libraries": ["<(libbpf_static)/lib/libbpf.a", "<(libbpf_static)/lib/libelf.a", "<(libbpf_static)/lib/libeu.a", "<(libbpf_static)/lib/libz.a"]
        }]
      ]
    }
  ]
}
