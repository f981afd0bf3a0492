// swift-tools-version:5.9
// Lumbung's Swift binding: the `Lumbung` library over the C API of
// bindings/c/lumbung.h (module `CLumbung`). docs/bindings/ios.md explains how
// to build liblumbung and use this package; decision 0014 why it is shaped so.
import PackageDescription

// With LUMBUNG_XCFRAMEWORK set (the way for an iOS app), `CLumbung` is the
// prebuilt CLumbung.xcframework beside this file, which carries lumbung.h, its
// module map and liblumbung for each platform. Without it (`swift build` and
// `swift test` on a Mac or Linux), `CLumbung` is the header in the source tree
// and the linker finds liblumbung through -L, as docs/bindings/ios.md shows.
let cLumbung: Target = Context.environment["LUMBUNG_XCFRAMEWORK"] != nil
  ? .binaryTarget(name: "CLumbung", path: "CLumbung.xcframework")
  : .systemLibrary(name: "CLumbung", path: "Sources/CLumbung")

let package = Package(
  name: "Lumbung",
  platforms: [.iOS(.v15), .macOS(.v12)],
  products: [
    .library(name: "Lumbung", targets: ["Lumbung"]),
  ],
  targets: [
    cLumbung,
    .target(name: "Lumbung", dependencies: ["CLumbung"]),
    .testTarget(name: "LumbungTests", dependencies: ["Lumbung"]),
  ]
)
