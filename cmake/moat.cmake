# Build helpers. Every module is built twice from the same sources: a
# hardened release variant (moat_<name>) and an ASan+UBSan variant
# (moat_<name>_asan) that the unit and end-to-end tests run against.

set(MOAT_WARNINGS
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
    -Wformat-nonliteral -Wvla -Wwrite-strings -Wimplicit-fallthrough -Wswitch-enum
    -Wconversion -Wsign-conversion -Wno-missing-field-initializers -Werror)
set(MOAT_HARDEN_C
    -O2 -g -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection
    -fcf-protection -fPIE)
# --as-needed: a shared library the program does not call is not loaded
# (moat links exec, whose service part needs SQLite; `moat run` does not).
set(MOAT_HARDEN_LD -pie -Wl,-z,relro,-z,now,-z,noexecstack -Wl,--as-needed)
set(MOAT_ASAN_C -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
    -fno-sanitize-recover=all -fPIE)
set(MOAT_ASAN_LD -fsanitize=address,undefined -pie -Wl,--as-needed)

set(MOAT_VARIANTS "" "_asan")

function(moat_variant_flags target variant)
    target_compile_options(${target} PRIVATE ${MOAT_WARNINGS})
    target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
    if(variant STREQUAL "_asan")
        target_compile_options(${target} PRIVATE ${MOAT_ASAN_C})
        target_link_options(${target} PRIVATE ${MOAT_ASAN_LD})
    else()
        target_compile_options(${target} PRIVATE ${MOAT_HARDEN_C})
        target_link_options(${target} PRIVATE ${MOAT_HARDEN_LD})
    endif()
endfunction()

# moat_module(NAME SOURCES a.c b.c DEPS other_module ... LIBS external ...)
function(moat_module name)
    cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS" ${ARGN})
    foreach(v IN LISTS MOAT_VARIANTS)
        set(t moat_${name}${v})
        set(deps "")
        foreach(d IN LISTS M_DEPS)
            list(APPEND deps moat_${d}${v})
        endforeach()
        if(NOT M_SOURCES)
            # a module still being written: an empty interface keeps the tree building
            add_library(${t} INTERFACE)
            target_include_directories(${t} INTERFACE ${PROJECT_SOURCE_DIR}/include)
            target_link_libraries(${t} INTERFACE ${deps} ${M_LIBS})
            continue()
        endif()
        add_library(${t} STATIC ${M_SOURCES})
        target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                   PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
        moat_variant_flags(${t} "${v}")
        target_link_libraries(${t} PUBLIC ${deps} ${M_LIBS})
    endforeach()
endfunction()

# moat_program(NAME SOURCES ... DEPS ...): one executable per variant;
# the release one is NAME, the sanitized one NAME-asan.
function(moat_program name)
    cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS" ${ARGN})
    foreach(v IN LISTS MOAT_VARIANTS)
        if(v STREQUAL "_asan")
            set(t ${name}-asan)
        else()
            set(t ${name})
        endif()
        add_executable(${t} ${M_SOURCES})
        target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/include)
        moat_variant_flags(${t} "${v}")
        set(deps "")
        foreach(d IN LISTS M_DEPS)
            list(APPEND deps moat_${d}${v})
        endforeach()
        target_link_libraries(${t} PRIVATE ${deps} ${M_LIBS})
        set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
    endforeach()
endfunction()

# Prefer the static archive of a library: the lean `moat` binary starts in
# about 1 ms because it does not load and relocate a dozen shared objects.
function(moat_find_static var name)
    find_library(${var} NAMES lib${name}.a ${name} REQUIRED)
endfunction()
