module web
