# Turns every schemas/*.json (Kafka Connect schemas) and schemas/*.avsc (their
# Avro form) into a byte array in one C file, with a lookup by file name,
# sl_embedded_schema("postgres-source.json"), and a list of the names,
# sl_embedded_schema_name(i).
file(GLOB files ${IN_DIR}/*.json ${IN_DIR}/*.avsc)
list(SORT files)
set(body "/* Generated from the files of schemas/ by cmake/embed-schemas.cmake; do not edit. */\n#include <stddef.h>\n#include <string.h>\n\n")
set(table "")
set(i 0)
foreach(f ${files})
  get_filename_component(name ${f} NAME)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char schema_${i}[] = {${hex}0x00};\n")
  string(APPEND table "    {\"${name}\", schema_${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nstatic const struct { const char *name; const char *text; } schemas[] = {\n${table}    {0, 0},\n};\n\n")
string(APPEND body "const char *sl_embedded_schema(const char *name);\nconst char *sl_embedded_schema_name(size_t i);\n")
string(APPEND body "const char *sl_embedded_schema_name(size_t i)\n{\n    return i < sizeof schemas / sizeof schemas[0] ? schemas[i].name : 0;\n}\n")
string(APPEND body "const char *sl_embedded_schema(const char *name)\n{\n    for (int i = 0; schemas[i].name; i++)\n        if (strcmp(schemas[i].name, name) == 0)\n            return schemas[i].text;\n    return 0;\n}\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
