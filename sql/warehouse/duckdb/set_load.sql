SET VARIABLE bnpl_load = { {% for name in names %}'{{ name }}': ${{ name }}{{ ', ' if not loop.last }}{% endfor %} }
