#ifndef TRELLIS_CYAML_SHIM_H
#define TRELLIS_CYAML_SHIM_H

// libyaml's event parser (yaml_parser_parse); TrellisDomain builds its own tree from the
// events so that it can enforce nesting and alias limits while parsing.
#include <yaml.h>

#endif
