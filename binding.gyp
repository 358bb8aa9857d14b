{
  "targets": [
    {
      "target_name": "podspan",
      "sources": ["<!@(node scripts/native-sources.js)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core",
        "<!(node scripts/native-sources.js --llhttp-include)",
        "<!(node scripts/native-sources.js --llhttp-source)"
      ],
      "libraries": ["-lpcap", "-lnghttp2", "-lpthread"],
      "cflags": ["-fvisibility=hidden"],
      "ldflags": ["-Wl,-Bsymbolic"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_c": ["-O2", "-w"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines+": ["NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
