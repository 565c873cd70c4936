# cmake -DIN=file -DOUT=file.cc -DSYMBOL=kName -DHEADER=path.h -DNAMESPACE=ns -P embed.cmake
# Writes IN's bytes into OUT as a C++ string constant.
file(READ "${IN}" CONTENT)
file(WRITE "${OUT}" "// Generated from ${IN}; edit that file instead.\n#include \"${HEADER}\"\n\nnamespace ${NAMESPACE} {\n\nconst char ${SYMBOL}[] = R\"embedded(${CONTENT})embedded\";\n\n}  // namespace ${NAMESPACE}\n")
