# Writes OUT, a C++ file defining FUNCTION (in closeloop::server) that returns the contents of
# IN as a NUL-terminated string. Bytes, not a string literal: the document is longer than the
# 4095 characters -Wpedantic allows in a literal.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "// Generated from ${IN} by server/embed.cmake. Do not edit.\nnamespace closeloop::server {\nnamespace {\nconst char data[] = {\n${bytes}0x00};\n}\nconst char* ${FUNCTION}() { return data; }\n}  // namespace closeloop::server\n")
