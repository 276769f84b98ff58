# Installation (FHS under CMAKE_INSTALL_PREFIX, /usr for the package) and
# the Debian package of `make deb` (CPack). The sanitized variants, the
# tests and the benchmarks are not installed.
install(TARGETS moat moat-server RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/languages.ini DESTINATION share/moat)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/moat.1 ${PROJECT_SOURCE_DIR}/docs/man/moat-run.1
              ${PROJECT_SOURCE_DIR}/docs/man/moat-serve.1 ${PROJECT_SOURCE_DIR}/docs/man/moat-worker.1
        DESTINATION share/man/man1)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/moat.ini.5 DESTINATION share/man/man5)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md
              ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/moat.ini.example
              ${PROJECT_SOURCE_DIR}/docs/openapi.yaml
        DESTINATION share/doc/moat)
file(GLOB MOAT_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${MOAT_DOCS} DESTINATION share/doc/moat)
# Absolute: the system's, whatever the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/moat.ini DESTINATION /etc/moat)
install(DIRECTORY DESTINATION /var/lib/moat)
# Not enabled by the package: `systemctl enable --now moat`.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/moat.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/moat-worker.service
        DESTINATION /lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME moat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "runs untrusted programs in throw-away Linux sandboxes")
set(CPACK_PACKAGE_DESCRIPTION
    "moat runs a program (language, source, stdin, limits) in a sandbox made of
namespaces, cgroups, seccomp and Landlock, and reports its output, exit
status, verdict, CPU time, wall time and peak memory: `moat run` once,
`moat serve` as an HTTP service, `moat worker` in a cluster.")
set(CPACK_PACKAGE_CONTACT "moat maintainers <maintainers@moat.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# The shared libraries the binaries load, with their versions, from
# dpkg-shlibdeps (the others are linked statically).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The languages of languages.ini: moat lists as unavailable those missing.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "gcc, g++, python3, nodejs, openjdk-17-jdk-headless, golang-go, rustc, ruby, php-cli, perl, lua5.4")
configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_BINARY_DIR}/deb/conffiles
               COPYONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/conffiles)
include(CPack)
