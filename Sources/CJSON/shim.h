#ifndef HOIST_CJSON_SHIM_H
#define HOIST_CJSON_SHIM_H
/* json-c (libjson-c5): the tokener and object API the control protocol reads with. */
#include <json-c/json.h>
#include <json-c/json_object_iterator.h>
#endif
