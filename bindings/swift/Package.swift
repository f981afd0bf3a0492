// swift-tools-version:5.9
// Lumbung's Swift binding: the `Lumbung` library over the C API of
// bindings/c/lumbung.h (module `CLumbung`). docs/bindings/ios.md explains how
// to build liblumbung and use this package; decision 0014 why it is shaped so.
import PackageDescription

// With LUMBUNG_XCFRAMEWORK set (the way for an iOS app), `CLumbung` is the
// prebuilt CLumbung.xcframework beside this file: lumbung.h, its module map
// and a static liblumbung (engine, protobuf-lite, zstd, OpenSSL merged) for
// each platform. The app then links the C++ runtime and, unless the value is
// "sqlcipher" (SQLCipher merged in), the system's SQLite. Without it
// (`swift build`, `swift test` on a Mac or Linux), `CLumbung` is the header in
// the source tree and the linker finds the shared liblumbung through -L, as
// docs/bindings/ios.md shows.
let xcframework = Context.environment["LUMBUNG_XCFRAMEWORK"]
let cLumbung: Target = xcframework != nil
  ? .binaryTarget(name: "CLumbung", path: "CLumbung.xcframework")
  : .systemLibrary(name: "CLumbung", path: "Sources/CLumbung")
let staticLinks: [LinkerSetting] = xcframework == nil ? []
  : xcframework == "sqlcipher" ? [.linkedLibrary("c++"), .linkedFramework("Security")]
  : [.linkedLibrary("c++"), .linkedLibrary("sqlite3")]

let package = Package(
  name: "Lumbung",
  platforms: [.iOS(.v15), .macOS(.v12)],
  products: [
    .library(name: "Lumbung", targets: ["Lumbung"]),
  ],
  targets: [
    cLumbung,
    .target(name: "Lumbung", dependencies: ["CLumbung"], linkerSettings: staticLinks),
    .testTarget(name: "LumbungTests", dependencies: ["Lumbung"]),
  ]
)
